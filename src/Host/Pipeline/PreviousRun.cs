using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Platform.Host.Pipeline;

/// <summary>
/// An earlier run's files in a run's output folder (issue 15 §5: a rerun left them beside its own, mixed). Only what a
/// run writes is moved: its report, log, resolved configuration, plots, step folders (NN-step-purpose), checkpoints
/// and the files its report lists. A user's own files in the folder stay where they are.
/// </summary>
public static partial class PreviousRun
{
    /// <summary>The folder, inside the output folder, that earlier runs are moved into (one subfolder each).</summary>
    public const string ArchiveFolder = "previous-runs";

    private static readonly string[] RunFiles = ["report.json", "report.md", "report.interrupted.json", "config.resolved.json", "run.log", "model.ckpt"];

    [GeneratedRegex(@"^\d{2}-")]
    private static partial Regex StepFolder();

    /// <summary>
    /// Applies <paramref name="policy"/> when <paramref name="output"/> holds an earlier run (a report or resolved
    /// configuration). Returns the folder the run was moved into, or null when there was none.
    /// </summary>
    public static string? SetAside(string output, PreviousRunPolicy policy, DateTimeOffset now)
    {
        var entries = RunEntries(output);
        if (entries.Count == 0) return null;
        if (policy == PreviousRunPolicy.Refuse)
            throw new PlatformException($"Pipeline:Output: {output} holds an earlier run ({string.Join(", ", entries.Take(4).Select(Path.GetFileName))}); " +
                "set Pipeline:PreviousRun=Archive to move it into previous-runs/, or choose another output folder.");
        var stamp = now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var archive = Path.Combine(output, ArchiveFolder, stamp);
        for (var n = 2; Directory.Exists(archive); n++) archive = Path.Combine(output, ArchiveFolder, $"{stamp}-{n}");
        Directory.CreateDirectory(archive);
        foreach (var entry in entries)
        {
            var target = Path.Combine(archive, Path.GetRelativePath(output, entry));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (Directory.Exists(entry)) Directory.Move(entry, target);
            else File.Move(entry, target);
        }
        return archive;
    }

    /// <summary>The paths in <paramref name="output"/> an earlier run wrote; empty when it holds no report or resolved configuration.</summary>
    private static List<string> RunEntries(string output)
    {
        if (!File.Exists(Path.Combine(output, "report.json")) && !File.Exists(Path.Combine(output, "config.resolved.json"))) return [];
        var entries = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in RunFiles)
            if (File.Exists(Path.Combine(output, name))) entries.Add(Path.Combine(output, name));
        foreach (var folder in Directory.EnumerateDirectories(output))
        {
            var name = Path.GetFileName(folder);
            if (name == "plots" || StepFolder().IsMatch(name)) entries.Add(folder);
        }
        foreach (var listed in ListedFiles(output))
        {
            var full = Path.GetFullPath(Path.Combine(output, listed));
            // Only files inside the folder (a report may list a checkpoint saved elsewhere under the output root).
            var inside = Path.GetRelativePath(output, full);
            if (inside.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(inside) || inside.StartsWith(ArchiveFolder, StringComparison.Ordinal)) continue;
            if (File.Exists(full) && !entries.Any(e => full.StartsWith(e + Path.DirectorySeparatorChar, StringComparison.Ordinal))) entries.Add(full);
        }
        return entries.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The files the earlier report's steps list (relative to the folder); none when it does not parse.</summary>
    private static IEnumerable<string> ListedFiles(string output)
    {
        var path = Path.Combine(output, "report.json");
        if (!File.Exists(path) || new FileInfo(path).Length > 64 << 20) return [];
        try
        {
            return (JsonNode.Parse(File.ReadAllText(path))?["steps"] as JsonArray ?? [])
                .SelectMany(step => step?["files"] as JsonArray ?? [])
                .Select(file => file?.GetValue<string>())
                .OfType<string>()
                .ToList();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return [];
        }
    }
}
