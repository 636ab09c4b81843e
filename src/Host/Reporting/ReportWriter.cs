using System.Globalization;
using System.Text;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;

namespace Platform.Host.Reporting;

/// <summary>
/// Writes report.json, report.md and the PNG plots of a run. Called after every step, each file
/// written under a temporary name and renamed, so a run that fails midway keeps a valid report of
/// what it did.
/// </summary>
public sealed class ReportWriter(string outputDirectory)
{
    public string PlotsDirectory => Path.Combine(outputDirectory, "plots");

    public void Write(RunReport report)
    {
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "report.json"), report.ToJson());
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "report.md"), Markdown(report));
    }

    /// <summary>Plots each series of a step as a PNG; returns the files, relative to the output folder.</summary>
    public IEnumerable<string> Plot(StepReport step, IReadOnlyDictionary<string, Series> series)
    {
        foreach (var (name, s) in series)
        {
            if (s.X.Count == 0) continue;
            var file = Path.Combine("plots", $"{step.Index:D2}-{step.Use}-{Sanitize(name)}.png");
            var plot = new ScottPlot.Plot();
            var line = plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray());
            line.MarkerSize = s.X.Count > 60 ? 0 : 5;
            plot.Title($"{step.Use} (step {step.Index}): {name}");
            plot.XLabel(s.XLabel);
            plot.YLabel(s.YLabel);
            var bytes = plot.GetImageBytes(800, 480, ScottPlot.ImageFormat.Png);
            AtomicFile.WriteAllBytes(Path.Combine(outputDirectory, file), bytes);
            yield return file;
        }
    }

    private static string Sanitize(string name) =>
        new(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());

    public static string Markdown(RunReport report)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Run report: {report.Pipeline}");
        md.AppendLine();
        md.AppendLine($"- pipeline file: `{report.PipelineFile}`");
        md.AppendLine($"- seed {report.Seed}, device {report.Device}, {report.Cores} cores, started {report.Started:u}");
        if (report.TorchRuntime is not null) md.AppendLine($"- torch runtime: {report.TorchRuntime}");
        md.AppendLine($"- status: **{report.Status}**, {report.Seconds:F1} s");
        md.AppendLine("- FLOPs are multiply-accumulates per sample; masked weights count as removed.");
        md.AppendLine();
        md.AppendLine("| # | step | status | seconds | params | non-zero params | MFLOPs | FLOPs vs dense | metrics |");
        md.AppendLine("|---|------|--------|--------:|-------:|----------------:|-------:|---------------:|---------|");
        foreach (var s in report.Steps)
        {
            var m = s.Model;
            var metrics = string.Join(", ", s.Metrics.Take(6).Select(kv => $"{kv.Key}={Format(kv.Value)}"));
            if (s.Metrics.Count > 6) metrics += $", … ({s.Metrics.Count} in report.json)";
            md.AppendLine($"| {s.Index} | {s.Use} | {s.Status} | {s.Seconds:F1} | {m?.Params.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {m?.NonzeroParams.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} | {(m is null ? "-" : (m.Flops / 1e6).ToString("F2", CultureInfo.InvariantCulture))} | {(m is null || m.DenseFlops == 0 ? "-" : (m.Flops / m.DenseFlops).ToString("P1", CultureInfo.InvariantCulture))} | {metrics} |");
        }
        if (report.InputCounts.Any(kv => kv.Value > 0))
            md.AppendLine().AppendLine("Dropped or skipped by the dataset's reader: " +
                string.Join(", ", report.InputCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {Format(kv.Value)}")) + ".");
        if (report.Transforms.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Point transforms");
            md.AppendLine();
            md.AppendLine("| step | settings | samples | points in | points out | kept |");
            md.AppendLine("|------|----------|--------:|----------:|-----------:|-----:|");
            foreach (var t in report.Transforms)
                md.AppendLine($"| {t.Step} | {t.Settings} | {t.Samples} | {t.PointsIn} | {t.PointsOut} | {(t.PointsIn == 0 ? "-" : ((double)t.PointsOut / t.PointsIn).ToString("P1", CultureInfo.InvariantCulture))} |");
        }
        foreach (var s in report.Steps.Where(s => s.Error is not null || s.Tables.Count > 0 || s.Notes.Count > 0 || s.Files.Any(f => f.EndsWith(".png", StringComparison.Ordinal))))
        {
            md.AppendLine();
            md.AppendLine($"## Step {s.Index}: {s.Use}");
            if (s.Error is not null) md.AppendLine().AppendLine($"**Failed:** {s.Error}");
            foreach (var note in s.Notes) md.AppendLine().AppendLine(note);
            foreach (var table in s.Tables)
            {
                md.AppendLine().AppendLine($"### {table.Title}").AppendLine();
                md.AppendLine("| " + string.Join(" | ", table.Columns) + " |");
                md.AppendLine("|" + string.Concat(table.Columns.Select(_ => "---|")));
                foreach (var row in table.Rows) md.AppendLine("| " + string.Join(" | ", row) + " |");
            }
            foreach (var png in s.Files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
                md.AppendLine().AppendLine($"![{Path.GetFileNameWithoutExtension(png)}]({png.Replace('\\', '/')})");
        }
        return md.ToString();
    }

    public static string Format(double value) =>
        Math.Abs(value) >= 1e5 || (Math.Abs(value) < 1e-3 && value != 0)
            ? value.ToString("G4", CultureInfo.InvariantCulture)
            : value.ToString("0.####", CultureInfo.InvariantCulture);
}
