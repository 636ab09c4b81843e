using MathNet.Numerics.Distributions;

namespace Platform.Bench;

/// <summary>
/// One comparison a bench asks for: rows whose axis <see cref="Axis"/> is <see cref="A"/> against the rows that are
/// <see cref="B"/> and agree with them on every other axis (the repeat axis, a seed, included), in the column headed
/// <see cref="Column"/>. Written <c>Paired: [{ Axis: method, A: t3dnet, B: kd, Column: "accuracy (%)" }]</c>.
/// </summary>
public sealed record PairedComparison(string Axis, string A, string B, string Column)
{
    public string Label => $"{A} - {B}";
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
            string Key(BenchRow row) => string.Join("\u0001", row.Axes.Where(a => a.Key != comparison.Axis).OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));
            string Group(BenchRow row) => string.Join(" ", row.Axes.Where(a => a.Key != comparison.Axis && a.Key != repeatAxis).Select(a => a.Value));
            var bRows = rows.Select((r, i) => (Row: r, Index: i)).Where(x => x.Row.Axes.GetValueOrDefault(comparison.Axis) == comparison.B)
                .GroupBy(x => Key(x.Row)).ToDictionary(g => g.Key, g => g.First().Index);
            var pairs = rows.Select((r, i) => (Row: r, Index: i))
                .Where(x => x.Row.Axes.GetValueOrDefault(comparison.Axis) == comparison.A && x.Row.Axes.ContainsKey(repeatAxis) && bRows.ContainsKey(Key(x.Row)))
                .Select(x => (Group: Group(x.Row), Repeat: x.Row.Axes[repeatAxis], Difference: table[x.Index][column] - table[bRows[Key(x.Row)]][column]))
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
