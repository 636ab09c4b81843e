using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Sparsify.Points;

public sealed class RandomDropOptions
{
    [Description("Fraction of each cloud's points to keep, in (0, 1]; 1 keeps the cloud unchanged.")]
    [Range(0.0, 1.0, MinimumIsExclusive = true, ErrorMessage = "KeepRatio must be in (0, 1].")]
    public float KeepRatio { get; set; } = 0.5f;
}

/// <summary>
/// Uniform random drop: keeps exactly round(KeepRatio * n) points (at least one of a non-empty cloud),
/// chosen without replacement by the seed, in their original order. An exact count rather than a
/// per-point coin keeps the points-kept figure of a run free of sampling noise.
/// </summary>
public sealed class RandomDrop : IPointTransform
{
    private const string Name = "random-drop";
    private readonly float _keepRatio;

    public RandomDrop(RandomDropOptions options)
    {
        OptionsValidation.Check(options, Name);
        _keepRatio = options.KeepRatio;
    }

    public string Describe() => $"{Name}: keep {NumberText.Format(_keepRatio * 100)}% of points, uniformly at random (seeded)";

    public Sample Apply(Sample sample, int seed)
    {
        PointRows.Validate(sample, Name);
        var n = sample.PointCount;
        var kept = n == 0 ? 0 : Math.Clamp((int)Math.Round((double)n * _keepRatio), 1, n);
        if (kept == n) return sample;

        // Partial Fisher-Yates: the first `kept` slots of a seeded shuffle are a uniform k-subset.
        var rng = Seeding.Random(seed, Name);
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var keep = new bool[n];
        for (var j = 0; j < kept; j++)
        {
            var r = rng.Next(j, n);
            (order[j], order[r]) = (order[r], order[j]);
            keep[order[j]] = true;
        }
        return sample with { Points = PointRows.Where(sample.Points, sample.PointFeatures, keep, kept) };
    }
}
