using System.Text.Json;
using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

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
        var bytes = new FileInfo(path).Length;
        if (bytes > MaxFileBytes)
            throw new PlatformException($"{path}: {bytes} bytes; a pipeline file may have at most {MaxFileBytes} (1 MiB).");
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
                    var structure = new YamlStructureCheck(path);
                    while (parser.MoveNext()) structure.See(parser.Current!);
                }
                catch (Exception e) when (e is not YamlException and not PlatformException)
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
            // YamlDotNet places a tab in the indentation at the start of the enclosing mapping (line 1 for most files):
            // the first indented line with a tab is where the user must look.
            if (e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) && FirstTabIndentedLine(text) is { } tabLine)
                throw new PlatformException($"{path}: YAML syntax error at line {tabLine}: a tab in the indentation (YAML indents with spaces only).");
            throw new PlatformException($"{path}: YAML syntax error at line {e.Start.Line}, column {e.Start.Column}: {FirstSentence(e.Message)}");
        }
    }

    /// <summary>The 1-based number of the first line whose leading whitespace holds a tab (null: none).</summary>
    private static int? FirstTabIndentedLine(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indent = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            if (lines[i].AsSpan(0, indent).Contains('\t')) return i + 1;
        }
        return null;
    }

    /// <summary>Largest pipeline file read (1 MiB): pipelines are a few kilobytes.</summary>
    public const long MaxFileBytes = 1 << 20;

    /// <summary>
    /// What the YAML parser accepts and the configuration provider must not see: aliases (a 10-line alias bomb grew to
    /// 7.7 GB when the provider expanded it) and duplicate keys (the later one silently won; issue 15 §3, §7).
    /// </summary>
    private sealed class YamlStructureCheck(string path)
    {
        private sealed class Level(bool mapping)
        {
            public HashSet<string>? Keys { get; } = mapping ? new HashSet<string>(StringComparer.OrdinalIgnoreCase) : null;
            public bool ExpectKey { get; set; } = true;
        }

        private readonly Stack<Level> _levels = new();

        public void See(ParsingEvent e)
        {
            switch (e)
            {
                case AnchorAlias alias:
                    throw new PlatformException($"{path}: line {alias.Start.Line}: YAML aliases (*{alias.Value}) are not accepted in pipeline files: expanding them can take unbounded memory.");
                case MappingStart:
                    KeyOrValueStarts();
                    _levels.Push(new Level(mapping: true));
                    break;
                case SequenceStart:
                    KeyOrValueStarts();
                    _levels.Push(new Level(mapping: false));
                    break;
                case MappingEnd or SequenceEnd:
                    _levels.Pop();
                    ValueDone();
                    break;
                case Scalar scalar when _levels.TryPeek(out var level) && level.Keys is not null && level.ExpectKey:
                    // Keys are case-insensitive in the configuration, so 'seed' after 'Seed' is the same key.
                    if (!level.Keys.Add(scalar.Value))
                        throw new PlatformException($"{path}: line {scalar.Start.Line}: the key '{scalar.Value}' appears twice in the same mapping (keys are case-insensitive).");
                    level.ExpectKey = false;
                    break;
                case Scalar:
                    ValueDone();
                    break;
            }
        }

        private void KeyOrValueStarts()
        {
            if (_levels.TryPeek(out var level) && level.Keys is not null) level.ExpectKey = false;
        }

        private void ValueDone()
        {
            if (_levels.TryPeek(out var level) && level.Keys is not null) level.ExpectKey = true;
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
