using Platform.Abstractions.Kit;

namespace Platform.Bench.HessianDP;

internal static class Plots
{
    /// <summary>One line per series, markers at the measured points, an optional horizontal reference line; written atomically as PNG.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel,
        IReadOnlyList<(string Name, List<(double X, double Y)> Points)> series, (string Name, double Y)? reference)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (name, points) in series)
        {
            if (points.Count == 0) continue;
            var scatter = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            scatter.LegendText = name;
            scatter.MarkerSize = 7;
        }
        if (reference is { } r && double.IsFinite(r.Y))
        {
            var line = plot.Add.HorizontalLine(r.Y);
            line.LegendText = r.Name;
            line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(900, 520, ScottPlot.ImageFormat.Png));
    }
}
