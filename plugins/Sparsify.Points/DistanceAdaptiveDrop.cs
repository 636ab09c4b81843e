using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Sparsify.Points;

public sealed class DistanceAdaptiveOptions
{
    [Description("Horizontal range (metres) from which every point is kept; nearer points are thinned.")]
    [Range(0.1, 1e4)]
    public float ReferenceRange { get; set; } = 20f;

    [Description("Exponent k of the keep probability (r / ReferenceRange)^k; 2 undoes the lidar's 1/r^2 fall-off in point density.")]
    [Range(0.0, 10.0)]
    public float Exponent { get; set; } = 2f;

    [Description("Keep probability floor, so the nearest surfaces keep some points.")]
    [Range(0.0, 1.0)]
    public float MinKeepProbability { get; set; } = 0.05f;
}

/// <summary>
/// Distance-adaptive downsampling: denser far away, sparser near the sensor. A spinning lidar's
/// returns per square metre fall roughly as 1/r^2 with horizontal range r, so near objects carry far
/// more points than a detector needs while far ones are starved. Each point is kept with probability
///   p(r) = clamp((r / ReferenceRange)^Exponent, MinKeepProbability, 1),
/// drawn from the seed: points at or beyond ReferenceRange are all kept, near ones thinned towards an
/// even density. Exponent 0 keeps everything.
/// </summary>
public sealed class DistanceAdaptiveDrop : IPointTransform
{
    private const string Name = "distance-adaptive";
    private readonly float _referenceRange, _exponent, _minKeep;

    public DistanceAdaptiveDrop(DistanceAdaptiveOptions options)
    {
        OptionsValidation.Check(options, Name);
        _referenceRange = options.ReferenceRange;
        _exponent = options.Exponent;
        _minKeep = options.MinKeepProbability;
    }

    public string Describe() =>
        $"{Name}: keep probability clamp((r / {NumberText.Format(_referenceRange)} m)^{NumberText.Format(_exponent)}, " +
        $"{NumberText.Format(_minKeep)}, 1) of horizontal range r (seeded)";

    /// <summary>The keep probability p(r) of a point at horizontal range <paramref name="range"/>.</summary>
    public double KeepProbability(double range) =>
        Math.Clamp(Math.Pow(range / _referenceRange, _exponent), _minKeep, 1.0);

    public Sample Apply(Sample sample, int seed)
    {
        PointRows.Validate(sample, Name);
        var f = sample.PointFeatures;
        var p = sample.Points;
        var n = sample.PointCount;
        var rng = Seeding.Random(seed, Name);
        var keep = new bool[n];
        var kept = 0;
        var referenceSquared = (double)_referenceRange * _referenceRange;
        for (var i = 0; i < n; i++)
        {
            // One draw per point, always, so a point's fate does not depend on its neighbours' ranges.
            var u = rng.NextDouble();
            double x = p[i * f], y = p[i * f + 1];
            var rangeSquared = x * x + y * y;
            // (r / R)^k = (r^2 / R^2)^(k/2): no square root, and no power at all beyond R where p = 1.
            keep[i] = rangeSquared >= referenceSquared || u < Math.Max(Math.Pow(rangeSquared / referenceSquared, _exponent / 2.0), _minKeep);
            if (keep[i]) kept++;
        }
        return kept == n ? sample : sample with { Points = PointRows.Where(p, f, keep, kept) };
    }
}
