using Platform.Abstractions.Pipeline;

namespace Platform.Abstractions.Kit;

/// <summary>A two-sided percentile interval at <see cref="Level"/> (0.95 for 95 %).</summary>
public readonly record struct Interval(double Low, double High, double Level)
{
    public double HalfWidth => (High - Low) / 2;
}

/// <summary>A metric of one evaluation with its interval, and, where a reference evaluation of the same samples exists, the paired difference.</summary>
public sealed record MetricInterval(string Metric, double Value, Interval Interval, double? Delta = null, Interval? DeltaInterval = null);

/// <summary>
/// Bootstrap over samples: each resample draws n samples with replacement (as counts per sample); a metric's
/// interval is the percentile interval of its values over the resamples. The paired form applies the same
/// counts to two evaluations of the same samples, so frame-to-frame difficulty cancels from their difference.
/// </summary>
public static class Bootstrap
{
    /// <summary><paramref name="resamples"/> count vectors over <paramref name="samples"/> samples, fixed by <paramref name="seed"/>.</summary>
    public static int[][] Resamples(int samples, int resamples, int seed)
    {
        if (samples < 1) throw new ArgumentException("A bootstrap needs at least one sample.");
        if (resamples < 1) throw new ArgumentException("A bootstrap needs at least one resample.");
        var random = Seeding.Random(seed, "bootstrap");
        var draws = new int[resamples][];
        for (var b = 0; b < resamples; b++)
        {
            var counts = new int[samples];
            for (var i = 0; i < samples; i++) counts[random.Next(samples)]++;
            draws[b] = counts;
        }
        return draws;
    }

    /// <summary>Each metric's value (every sample counted once) with its percentile interval; with <paramref name="reference"/>, the paired difference too.</summary>
    public static IReadOnlyList<MetricInterval> Intervals(IResamplableMetrics evaluation, int[][] resamples, double level, IResamplableMetrics? reference = null)
    {
        if (level is <= 0 or >= 1) throw new ArgumentException($"The interval level must lie in (0, 1); got {level}.");
        var n = evaluation.SampleIds.Count;
        if (reference is not null && !reference.SampleIds.SequenceEqual(evaluation.SampleIds, StringComparer.Ordinal))
            throw new ArgumentException("A paired interval needs both evaluations on the same samples in the same order.");
        var ones = Enumerable.Repeat(1, n).ToArray();
        var point = evaluation.Compute(ones);
        var referencePoint = reference?.Compute(ones);
        var values = point.Keys.ToDictionary(k => k, _ => new double[resamples.Length], StringComparer.Ordinal);
        var deltas = point.Keys.Where(k => referencePoint?.ContainsKey(k) == true).ToDictionary(k => k, _ => new double[resamples.Length], StringComparer.Ordinal);
        for (var b = 0; b < resamples.Length; b++)
        {
            if (resamples[b].Length != n) throw new ArgumentException($"Resample {b} has {resamples[b].Length} counts for {n} samples.");
            var m = evaluation.Compute(resamples[b]);
            var r = deltas.Count > 0 ? reference!.Compute(resamples[b]) : null;
            // A resample can leave a metric undefined (KITTI AP of a class none of whose frames were drawn: the evaluator
            // omits it, and the lookup threw KeyNotFoundException): that draw is left out of that metric's interval.
            foreach (var (key, series) in values) series[b] = m.TryGetValue(key, out var v) ? v : double.NaN;
            foreach (var (key, series) in deltas)
                series[b] = m.TryGetValue(key, out var v) && r!.TryGetValue(key, out var w) ? v - w : double.NaN;
        }
        return point.Keys.Select(k => new MetricInterval(k, point[k], Percentiles(values[k], level),
            deltas.ContainsKey(k) ? point[k] - referencePoint![k] : null,
            deltas.TryGetValue(k, out var d) ? Percentiles(d, level) : null)).ToArray();
    }

    /// <summary>The (1-level)/2 and (1+level)/2 quantiles, linearly interpolated between order statistics; NaN draws (undefined in that resample) are left out.</summary>
    public static Interval Percentiles(double[] values, double level)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return new Interval(double.NaN, double.NaN, level);
        return new Interval(Quantiles.OfSorted(sorted, (1 - level) / 2), Quantiles.OfSorted(sorted, (1 + level) / 2), level);
    }
}
