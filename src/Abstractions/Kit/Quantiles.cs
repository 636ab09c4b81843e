namespace Platform.Abstractions.Kit;

/// <summary>Quantiles linearly interpolated between order statistics: the median of timings, the ends of bootstrap intervals.</summary>
public static class Quantiles
{
    /// <summary>The q-quantile of values already sorted ascending (q in [0, 1]).</summary>
    public static double OfSorted(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0) throw new ArgumentException("No values to take a quantile of.", nameof(sorted));
        var position = q * (sorted.Count - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Count - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }

    /// <summary>The middle value; the mean of the two middle values of an even count.</summary>
    public static double Median(IEnumerable<double> values) => OfSorted(values.Order().ToArray(), 0.5);
}
