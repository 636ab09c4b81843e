using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points.Tests;

public class DistanceAdaptiveDropTests
{
    /// <summary>200 points on a 2 m ring (tag 0) and 200 on a 40 m ring (tag 1), interleaved.</summary>
    private static Sample NearAndFarRings()
    {
        var rows = new (float, float, float, float)[400];
        for (var i = 0; i < 200; i++)
        {
            var azimuth = i * 2 * MathF.PI / 200;
            rows[2 * i] = (2 * MathF.Cos(azimuth), 2 * MathF.Sin(azimuth), -1.5f, 0);
            rows[2 * i + 1] = (40 * MathF.Cos(azimuth), 40 * MathF.Sin(azimuth), -1.5f, 1);
        }
        return Clouds.Of(rows);
    }

    [Test]
    public void The_keep_probability_follows_the_documented_rule()
    {
        var rule = new DistanceAdaptiveDrop(new DistanceAdaptiveOptions { ReferenceRange = 20, Exponent = 2, MinKeepProbability = 0.05f });

        Assert.That(rule.KeepProbability(10), Is.EqualTo(0.25).Within(1e-12));   // (10/20)^2
        Assert.That(rule.KeepProbability(20), Is.EqualTo(1.0));
        Assert.That(rule.KeepProbability(45), Is.EqualTo(1.0));                  // clamped at 1
        Assert.That(rule.KeepProbability(2), Is.EqualTo(0.05).Within(1e-7));     // (2/20)^2 = 0.01, floored
    }

    [Test]
    public void It_keeps_more_far_points_than_a_uniform_drop_of_the_same_overall_ratio()
    {
        var sample = NearAndFarRings();
        var adaptive = new DistanceAdaptiveDrop(new DistanceAdaptiveOptions()).Apply(sample, 1);
        var keptRatio = (float)adaptive.PointCount / sample.PointCount;
        var uniform = new RandomDrop(new RandomDropOptions { KeepRatio = keptRatio }).Apply(sample, 1);

        int Far(Sample s) => Clouds.Tags(s).Count(t => t == 1f);
        Assert.That(Far(adaptive), Is.EqualTo(200));               // p(40 m) = 1: every far point
        Assert.That(adaptive.PointCount - 200, Is.InRange(1, 30)); // p(2 m) = 0.05: about 10 of 200 near
        Assert.That(Far(adaptive), Is.GreaterThan(Far(uniform) + 50));
    }

    [Test]
    public void The_same_seed_gives_the_same_points_and_another_seed_other_points()
    {
        var sample = NearAndFarRings();
        var drop = new DistanceAdaptiveDrop(new DistanceAdaptiveOptions { ReferenceRange = 60 });

        Assert.That(drop.Apply(sample, 8).Points, Is.EqualTo(drop.Apply(sample, 8).Points));
        Assert.That(drop.Apply(sample, 9).Points, Is.Not.EqualTo(drop.Apply(sample, 8).Points));
    }

    [Test]
    public void Exponent_zero_keeps_every_point()
    {
        var sample = NearAndFarRings();
        Assert.That(new DistanceAdaptiveDrop(new DistanceAdaptiveOptions { Exponent = 0 }).Apply(sample, 0), Is.SameAs(sample));
    }

    [Test]
    public void A_non_positive_reference_range_is_refused_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(() => new DistanceAdaptiveDrop(new DistanceAdaptiveOptions { ReferenceRange = 0 }));
        Assert.That(error!.Message, Does.Contain("ReferenceRange").And.Contain("distance-adaptive"));
    }
}
