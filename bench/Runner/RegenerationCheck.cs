using System.Globalization;
using System.Text.Json;
using Platform.Host;

namespace Platform.Bench;

/// <summary>
/// bench-runner --compare FILE (issue 11: a committed table must regenerate within its stated intervals): the results
/// file as committed, read before this invocation overwrites it, against the table this invocation wrote. Rows are
/// matched by label and values by column header; rows the invocation did not run (--only) are left out.
/// </summary>
public static class RegenerationCheck
{
    public enum Verdict { Identical, WithinInterval, OutsideInterval, Differs, Missing }

    /// <param name="Low">The committed interval's bounds, where the column has one.</param>
    public sealed record Finding(string Row, string Column, double? Committed, double? Regenerated, double? Low, double? High, Verdict Verdict);

    /// <summary>Relative difference under which two values count as the same number (float rounding of a re-run).</summary>
    public const double SameTolerance = 1e-9;

    /// <summary>The committed table's rows by label, checked when the file is read (before any row runs).</summary>
    public static IReadOnlyDictionary<string, Row> Committed(JsonElement committed, string committedFile)
    {
        var rows = new Dictionary<string, Row>();
        foreach (var row in Rows(committed, $"--compare {committedFile}"))
            if (!rows.TryAdd(row.Label, row)) throw new PlatformException($"--compare {committedFile}: two rows are labelled '{row.Label}'.");
        return rows;
    }

    /// <summary>
    /// Every value of every regenerated row that the committed table also has, and every committed value such a row lost
    /// (Missing). Committed rows this invocation did not run (--only) are left out.
    /// </summary>
    public static List<Finding> Compare(IReadOnlyDictionary<string, Row> committed, JsonElement regenerated)
    {
        var findings = new List<Finding>();
        foreach (var (label, values, _) in Rows(regenerated, "the table bench-runner wrote"))
        {
            if (!committed.TryGetValue(label, out var old)) continue;
            foreach (var column in old.Values.Keys.Union(values.Keys))
            {
                var was = old.Values.GetValueOrDefault(column);
                var now = values.GetValueOrDefault(column);
                var interval = old.Intervals.GetValueOrDefault(column);
                findings.Add(new Finding(label, column, was, now, interval.Low, interval.High, Judge(was, now, interval)));
            }
        }
        return findings;
    }

    private static Verdict Judge(double? committed, double? regenerated, (double? Low, double? High) interval)
    {
        if (committed is null && regenerated is null) return Verdict.Identical;
        if (committed is not { } was || regenerated is not { } now) return Verdict.Missing;
        if (Math.Abs(now - was) <= SameTolerance * Math.Max(1, Math.Abs(was))) return Verdict.Identical;
        if (interval is { Low: { } low, High: { } high }) return now >= low && now <= high ? Verdict.WithinInterval : Verdict.OutsideInterval;
        return Verdict.Differs;
    }

    public sealed record Row(string Label, Dictionary<string, double?> Values, Dictionary<string, (double? Low, double? High)> Intervals);

    /// <param name="what">How messages name the document.</param>
    private static IEnumerable<Row> Rows(JsonElement document, string what)
    {
        if (document.ValueKind != JsonValueKind.Object || !document.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
            throw new PlatformException($"{what}: it has no 'rows' array (is it a bench-runner results .json?)");
        foreach (var row in rows.EnumerateArray())
        {
            var label = row.TryGetProperty("label", out var l) && l.ValueKind == JsonValueKind.String ? l.GetString()!
                : throw new PlatformException($"{what}: a row has no label.");
            var values = new Dictionary<string, double?>();
            if (row.TryGetProperty("values", out var v) && v.ValueKind == JsonValueKind.Object)
                foreach (var p in v.EnumerateObject()) values[p.Name] = Number(p.Value);
            var intervals = new Dictionary<string, (double?, double?)>();
            if (row.TryGetProperty("intervals", out var iv) && iv.ValueKind == JsonValueKind.Object)
                foreach (var p in iv.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2))
                    intervals[p.Name] = (Number(p.Value[0]), Number(p.Value[1]));
            yield return new Row(label, values, intervals);
        }
    }

    private static double? Number(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : null;

    /// <summary>
    /// Prints one line per value that is not identical and a count per verdict; returns the failures: values outside their
    /// committed interval, values with a committed interval that are now missing, and a comparison of nothing at all.
    /// </summary>
    public static int Print(IReadOnlyList<Finding> findings, string committedFile, TextWriter output)
    {
        static string F(double? x) => x?.ToString("0.####", CultureInfo.InvariantCulture) ?? "-";
        output.WriteLine($"Compared with {committedFile}: {findings.Select(f => f.Row).Distinct().Count()} rows, {findings.Count} values.");
        if (findings.Count == 0)
        {
            output.WriteLine("No row of the new table has a committed row of the same label: nothing was compared.");
            return 1;
        }
        foreach (var f in findings.Where(f => f.Verdict != Verdict.Identical))
        {
            var interval = f.Low is null ? "" : $" (committed interval [{F(f.Low)}, {F(f.High)}])";
            output.WriteLine($"  {f.Verdict}: '{f.Row}' / '{f.Column}': committed {F(f.Committed)}, now {F(f.Regenerated)}{interval}");
        }
        foreach (var group in findings.GroupBy(f => f.Verdict).OrderBy(g => g.Key))
            output.WriteLine($"  {group.Key}: {group.Count()}");
        var failures = findings.Count(f => f.Verdict == Verdict.OutsideInterval || (f.Verdict == Verdict.Missing && f.Low is not null));
        output.WriteLine(failures == 0
            ? "Every value with a committed interval regenerated within it (values without one, such as seconds, are listed above when they differ)."
            : $"{failures} values with a committed interval lie outside it or are missing.");
        return failures;
    }
}
