using System.Text.Json;
using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;

namespace Platform.Host.Configuration;

/// <summary>
/// Reads a pipeline file (JSON or YAML), then environment variables prefixed PLATFORM_ (":" written as
/// "__"), then --Key:Path=value overrides: later sources win, the Microsoft.Extensions.Configuration way.
/// Syntax errors are reported with the file name and line.
/// </summary>
public static class PipelineConfiguration
{
    public const string EnvironmentPrefix = "PLATFORM_";

    public static IConfigurationRoot Load(string path, IReadOnlyList<string> overrides)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new PlatformException($"{path}: pipeline file not found.");
        var extension = Path.GetExtension(full).ToLowerInvariant();
        if (extension is not (".json" or ".yaml" or ".yml"))
            throw new PlatformException($"{path}: a pipeline file must be .json, .yaml or .yml.");

        CheckSyntax(full, extension);
        var builder = new ConfigurationBuilder();
        if (extension == ".json") builder.AddJsonFile(full, optional: false, reloadOnChange: false);
        else builder.AddYamlFile(full, optional: false, reloadOnChange: false);
        builder.AddEnvironmentVariables(EnvironmentPrefix);
        builder.AddCommandLine(NormalizeOverrides(overrides).ToArray());
        try
        {
            return builder.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or YamlException)
        {
            throw new PlatformException($"{path}: {e.InnerException?.Message ?? e.Message}", e);
        }
    }

    /// <summary>Parses the file first with the JSON/YAML parser directly, for an error message with a line number.</summary>
    private static void CheckSyntax(string path, string extension)
    {
        var text = File.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text)) throw new PlatformException($"{path}: the pipeline file is empty.");
        try
        {
            if (extension == ".json")
            {
                using var _ = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            else
            {
                var parser = new Parser(new StringReader(text));
                try
                {
                    while (parser.MoveNext()) { }
                }
                catch (Exception e) when (e is not YamlException)
                {
                    // YamlDotNet throws a bare Exception for some unterminated constructs; the last good event says where.
                    var line = parser.Current?.End.Line ?? 1;
                    throw new PlatformException($"{path}: YAML syntax error after line {line}: an unterminated or malformed construct.");
                }
            }
        }
        catch (JsonException e)
        {
            throw new PlatformException($"{path}: JSON syntax error at line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}");
        }
        catch (YamlException e)
        {
            throw new PlatformException($"{path}: YAML syntax error at line {e.Start.Line}, column {e.Start.Column}: {FirstSentence(e.Message)}");
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return cut > 0 ? message[..cut].TrimEnd('.', ' ') : message;
    }

    /// <summary>
    /// Accepts "--Key=value", "--Key value" and "Key=value" with Key under Pipeline:; rejects anything else by name
    /// (an argument such as --seed 5 or --plugin DIR set a key nothing reads, and the run went ahead without it).
    /// </summary>
    private static IEnumerable<string> NormalizeOverrides(IReadOnlyList<string> overrides)
    {
        for (var i = 0; i < overrides.Count; i++)
        {
            var token = overrides[i];
            var key = token.TrimStart('-', '/');
            string pair;
            if (key.Contains('='))
                pair = key;
            else if (token.StartsWith("--", StringComparison.Ordinal) && i + 1 < overrides.Count && !overrides[i + 1].StartsWith("--", StringComparison.Ordinal))
                pair = key + "=" + overrides[++i];
            else
                throw new PlatformException($"override '{token}' is not of the form --Pipeline:Key:Path=value.");
            var name = pair[..pair.IndexOf('=')];
            if (!name.StartsWith("Pipeline:", StringComparison.OrdinalIgnoreCase))
                throw new PlatformException($"argument '{token}' sets '{name}', which no pipeline reads: overrides are --Pipeline:Key:Path=value " +
                    $"(e.g. --Pipeline:Seed=5); the run command's own options are listed by 'platform run --help'.");
            yield return "--" + pair;
        }
    }
}
