using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;

namespace Platform.Abstractions.Tests;

public class BootstrapTests
{
    /// <summary>The mean of per-sample values under counts: the simplest metric to resample.</summary>
    private sealed class MeanOf(double[] values) : IResamplableMetrics
    {
        public IReadOnlyList<string> SampleIds { get; } = values.Select((_, i) => "s" + i).ToArray();

        public IReadOnlyDictionary<string, double> Compute(int[] counts) =>
            new Dictionary<string, double> { ["mean"] = values.Select((v, i) => v * counts[i]).Sum() / counts.Sum() };
    }

    [Test]
    public void Each_resample_draws_n_samples_and_a_seed_fixes_the_draws()
    {
        var a = Bootstrap.Resamples(50, 20, seed: 3);
        Assert.That(a, Has.Length.EqualTo(20));
        Assert.That(a.Select(c => c.Sum()), Is.All.EqualTo(50));
        Assert.That(Bootstrap.Resamples(50, 20, seed: 3), Is.EqualTo(a));
        Assert.That(Bootstrap.Resamples(50, 20, seed: 4), Is.Not.EqualTo(a));
        Assert.That(a.Count(c => c.Any(x => x == 0)), Is.EqualTo(20), "with 50 draws some sample is always left out");
    }

    [Test]
    public void Percentiles_interpolate_between_order_statistics()
    {
        var values = Enumerable.Range(0, 101).Select(i => (double)(100 - i)).ToArray();
        var interval = Bootstrap.Percentiles(values, 0.9);
        Assert.That(interval.Low, Is.EqualTo(5).Within(1e-12));
        Assert.That(interval.High, Is.EqualTo(95).Within(1e-12));
        Assert.That(Bootstrap.Percentiles([1.0, 2.0], 0.5).Low, Is.EqualTo(1.25).Within(1e-12));
    }

    [Test]
    public void The_interval_of_a_mean_has_the_normal_width_and_shrinks_with_more_samples()
    {
        // Values 0/1 with p = 0.5: the standard error of the mean is 0.5 / sqrt(n), the 95 % half-width about 1.96 of it.
        foreach (var n in new[] { 100, 400 })
        {
            var values = Enumerable.Range(0, n).Select(i => (double)(i % 2)).ToArray();
            var m = Bootstrap.Intervals(new MeanOf(values), Bootstrap.Resamples(n, 2000, 1), 0.95).Single();
            Assert.That(m.Value, Is.EqualTo(0.5));
            Assert.That(m.Interval.HalfWidth, Is.EqualTo(1.96 * 0.5 / Math.Sqrt(n)).Within(0.15 * 1.96 * 0.5 / Math.Sqrt(n)), $"n = {n}");
            Assert.That(m.Delta, Is.Null);
        }
    }

    [Test]
    public void A_paired_difference_cancels_what_both_evaluations_share()
    {
        // Two evaluations that differ by exactly 0.1 on every sample, over widely spread values: the unpaired
        // intervals are wide, the paired difference is exactly 0.1 in every resample.
        var random = new Random(5);
        var a = Enumerable.Range(0, 200).Select(_ => random.NextDouble() * 10).ToArray();
        var b = a.Select(v => v - 0.1).ToArray();
        var m = Bootstrap.Intervals(new MeanOf(b), Bootstrap.Resamples(200, 500, 2), 0.95, reference: new MeanOf(a)).Single();
        Assert.That(m.Interval.HalfWidth, Is.GreaterThan(0.3));
        Assert.That(m.Delta, Is.EqualTo(-0.1).Within(1e-9));
        Assert.That(m.DeltaInterval!.Value.Low, Is.EqualTo(-0.1).Within(1e-9));
        Assert.That(m.DeltaInterval!.Value.High, Is.EqualTo(-0.1).Within(1e-9));
    }

    /// <summary>The mean of the values of the samples drawn; undefined (omitted) when sample 0, the only "rare" one, is not drawn.</summary>
    private sealed class RareMean(double[] values) : IResamplableMetrics
    {
        public IReadOnlyList<string> SampleIds { get; } = values.Select((_, i) => "s" + i).ToArray();

        public IReadOnlyDictionary<string, double> Compute(int[] counts)
        {
            var metrics = new Dictionary<string, double> { ["mean"] = values.Select((v, i) => v * counts[i]).Sum() / counts.Sum() };
            if (counts[0] > 0) metrics["rare"] = counts[0];
            return metrics;
        }
    }

    [Test]
    public void A_metric_a_resample_leaves_undefined_gets_its_interval_from_the_draws_that_define_it()
    {
        // Like a KITTI class whose only frame a resample did not draw: the evaluator omits its AP (KeyNotFoundException before).
        var values = Enumerable.Range(0, 10).Select(i => (double)i).ToArray();
        var resamples = Bootstrap.Resamples(10, 400, 7);
        var intervals = Bootstrap.Intervals(new RareMean(values), resamples, 0.9, reference: new RareMean(values)).ToDictionary(m => m.Metric);

        var drawn = resamples.Where(c => c[0] > 0).Select(c => (double)c[0]).ToArray();
        Assert.That(drawn.Length, Is.InRange(200, 340), "about 1 - (0.9)^10 = 65 % of the draws include sample 0");
        Assert.That(intervals["rare"].Interval, Is.EqualTo(Bootstrap.Percentiles(drawn, 0.9)));
        Assert.That(intervals["rare"].DeltaInterval!.Value.Low, Is.EqualTo(0));
        Assert.That(intervals["mean"].Interval.Low, Is.LessThan(4.5));
    }

    [Test]
    public void A_paired_interval_of_evaluations_on_different_samples_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Bootstrap.Intervals(new MeanOf([1, 2, 3]), Bootstrap.Resamples(3, 5, 0), 0.95, reference: new MeanOf([1, 2])))!;
        Assert.That(e.Message, Does.Contain("same samples"));
    }
}
