using System.Text.Json;
using MathNet.Numerics.Distributions;
using Platform.Host;

namespace Platform.Bench;

/// <summary>
/// One comparison a bench asks for: rows whose axis <see cref="Axis"/> is <see cref="A"/> against the rows that are
/// <see cref="B"/> and agree with them on every other axis (the repeat axis, a seed, included), in the column headed
/// <see cref="Column"/>. Written <c>Paired: [{ Axis: method, A: t3dnet, B: kd, Column: "accuracy (%)" }]</c>.
/// With <see cref="BFrom"/> (<c>BResults: bench/results/other.json</c>) the B rows are another bench's, read from its
/// results file: two benches that ran the same seeds of two arms are compared without running either again.
/// </summary>
public sealed record PairedComparison(string Axis, string A, string B, string Column, ExternalArm? BFrom = null)
{
    public string Label => BFrom is null ? $"{A} - {B}" : $"{A} - {B} of {BFrom.Bench}";
}

/// <summary>An arm's rows as another bench's results file recorded them: each row's axes and its value in one column.</summary>
public sealed record ExternalArm(string Path, string Bench, IReadOnlyDictionary<string, string> Provenance,
    IReadOnlyList<(IReadOnlyDictionary<string, string> Axes, double Value)> Rows)
{
    // A results file of a few hundred rows is tens of kilobytes; anything near this is not one.
    private const long MaxBytes = 16 << 20;

    /// <summary>
    /// Reads the rows whose <paramref name="axis"/> is <paramref name="arm"/> and their <paramref name="column"/> from a
    /// bench-runner results JSON, <paramref name="path"/> as the bench file names it and <paramref name="file"/> where it
    /// lies; <paramref name="key"/> names the bench-file entry in errors.
    /// </summary>
    public static ExternalArm Read(string path, string file, string axis, string arm, string column, string key)
    {
        if (!File.Exists(file)) throw new PlatformException($"{key}: the results file '{path}' does not exist.");
        if (new FileInfo(file).Length > MaxBytes) throw new PlatformException($"{key}: '{path}' is larger than {MaxBytes >> 20} MiB; it is not a bench results file.");
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(file)); }
        catch (JsonException e) { throw new PlatformException($"{key}: '{path}' is not JSON ({e.Message}).", e); }
        using var _ = document;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
            throw new PlatformException($"{key}: '{path}' has no 'rows' array; it is not a bench-runner results file.");
        var bench = root.TryGetProperty("bench", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : System.IO.Path.GetFileNameWithoutExtension(path);
        var provenance = root.TryGetProperty("provenance", out var p) && p.ValueKind == JsonValueKind.Object
            ? p.EnumerateObject().Where(e => e.Value.ValueKind == JsonValueKind.String).ToDictionary(e => e.Name, e => e.Value.GetString()!)
            : [];
        var found = new List<(IReadOnlyDictionary<string, string>, double)>();
        var armValues = new HashSet<string>();
        foreach (var row in rows.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Object || !row.TryGetProperty("axes", out var axesJson) || axesJson.ValueKind != JsonValueKind.Object) continue;
            var axes = axesJson.EnumerateObject().Where(e => e.Value.ValueKind == JsonValueKind.String).ToDictionary(e => e.Name, e => e.Value.GetString()!);
            if (axes.GetValueOrDefault(axis) is { } value) armValues.Add(value);
            if (axes.GetValueOrDefault(axis) != arm) continue;
            if (!row.TryGetProperty("values", out var values) || values.ValueKind != JsonValueKind.Object || !values.TryGetProperty(column, out var cell))
                throw new PlatformException($"{key}: '{path}' has no column '{column}' in its rows.");
            // A failed row is recorded with null values: it pairs with nothing, as within a bench.
            found.Add((axes, cell.ValueKind == JsonValueKind.Number ? cell.GetDouble() : double.NaN));
        }
        if (found.Count == 0)
            throw new PlatformException($"{key}: no row of '{path}' has {axis} '{arm}' (values: {string.Join(", ", armValues)}).");
        return new ExternalArm(path, bench, provenance, found);
    }
}

/// <summary>
/// The per-repeat differences A - B of one comparison within one group of rows (the axes other than the compared one
/// and the repeat axis), with their mean, sample standard deviation and the two-sided 95 % Student-t interval of the
/// mean difference. Pairing by seed removes what the arms share (the seed's initialisation and data order), which is
/// why this interval is narrower than the two arms' spreads suggest.
/// </summary>
public sealed record PairedDifference(PairedComparison Comparison, string Group, IReadOnlyList<(string Repeat, double Difference)> Pairs,
    double Mean, double StandardDeviation, double Low, double High)
{
    /// <summary>Both ends of the interval on one side of 0: the sign of the difference is resolved at 95 %.</summary>
    public bool ExcludesZero => Low > 0 || High < 0;
}

public static class PairedDifferences
{
    /// <summary>Every comparison of the bench, per group; repeats where either row failed (NaN) are left out.</summary>
    public static List<PairedDifference> Compute(IReadOnlyList<PairedComparison> comparisons, string repeatAxis,
        IReadOnlyList<BenchRow> rows, IReadOnlyList<string> headers, IReadOnlyList<double[]> table)
    {
        var result = new List<PairedDifference>();
        foreach (var comparison in comparisons)
        {
            var column = headers.ToList().IndexOf(comparison.Column);
            // The rows of each arm, keyed by every axis but the compared one; the group drops the repeat axis too.
            string Key(IReadOnlyDictionary<string, string> axes) => string.Join("\u0001", axes.Where(a => a.Key != comparison.Axis).OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));
            string Group(BenchRow row) => string.Join(" ", row.Axes.Where(a => a.Key != comparison.Axis && a.Key != repeatAxis).Select(a => a.Value));
            // The B arm's value per key: this bench's own rows, or another bench's as its results file recorded them.
            var bValues = comparison.BFrom is { } external
                ? external.Rows.GroupBy(r => Key(r.Axes)).ToDictionary(g => g.Key, g => g.First().Value)
                : rows.Select((r, i) => (Row: r, Index: i)).Where(x => x.Row.Axes.GetValueOrDefault(comparison.Axis) == comparison.B)
                    .GroupBy(x => Key(x.Row.Axes)).ToDictionary(g => g.Key, g => table[g.First().Index][column]);
            var pairs = rows.Select((r, i) => (Row: r, Index: i))
                .Where(x => x.Row.Axes.GetValueOrDefault(comparison.Axis) == comparison.A && x.Row.Axes.ContainsKey(repeatAxis) && bValues.ContainsKey(Key(x.Row.Axes)))
                .Select(x => (Group: Group(x.Row), Repeat: x.Row.Axes[repeatAxis], Difference: table[x.Index][column] - bValues[Key(x.Row.Axes)]))
                .Where(p => !double.IsNaN(p.Difference));
            foreach (var group in pairs.GroupBy(p => p.Group))
            {
                var differences = group.Select(p => p.Difference).ToArray();
                var (mean, sd, low, high) = MeanInterval(differences);
                result.Add(new PairedDifference(comparison, group.Key.Length == 0 ? "all" : group.Key,
                    group.Select(p => (p.Repeat, p.Difference)).ToList(), mean, sd, low, high));
            }
        }
        return result;
    }

    /// <summary>Mean, sample standard deviation and 95 % Student-t interval of the mean (NaN where fewer than 2 values).</summary>
    public static (double Mean, double StandardDeviation, double Low, double High) MeanInterval(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        var mean = values.Average();
        if (values.Count < 2) return (mean, double.NaN, double.NaN, double.NaN);
        var sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        var half = StudentT.InvCDF(0, 1, values.Count - 1, 0.975) * sd / Math.Sqrt(values.Count);
        return (mean, sd, mean - half, mean + half);
    }
}
