using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Sparsify.Points;

public sealed class RangeCropOptions : IValidatableObject
{
    [Description("Keep points with x >= MinX (metres, lidar frame: x forward); unset means no bound.")]
    public float? MinX { get; set; }

    [Description("Keep points with x <= MaxX; unset means no bound.")]
    public float? MaxX { get; set; }

    [Description("Keep points with y >= MinY (y left); unset means no bound.")]
    public float? MinY { get; set; }

    [Description("Keep points with y <= MaxY; unset means no bound.")]
    public float? MaxY { get; set; }

    [Description("Keep points with z >= MinZ (z up); unset means no bound.")]
    public float? MinZ { get; set; }

    [Description("Keep points with z <= MaxZ; unset means no bound.")]
    public float? MaxZ { get; set; }

    [Description("Keep points whose horizontal range sqrt(x^2 + y^2) is >= MinDistance metres (drops returns off the ego vehicle).")]
    [Range(0.0, 1e4)]
    public float MinDistance { get; set; }

    [Description("Keep points whose horizontal range is <= MaxDistance metres; unset means no bound.")]
    [Range(0.0, 1e4)]
    public float? MaxDistance { get; set; }

    [Description("Horizontal field of view kept, in degrees, centred on FieldOfViewCenter; 360 keeps every direction.")]
    [Range(1e-3, 360.0)]
    public float FieldOfView { get; set; } = 360f;

    [Description("Azimuth of the field of view's centre in degrees, counter-clockwise from +x (0 = forward, 90 = left).")]
    [Range(-180.0, 180.0)]
    public float FieldOfViewCenter { get; set; }

    /// <summary>Each lower bound lies below its upper bound, where both are set.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (minName, min, maxName, max) in new[]
                 {
                     (nameof(MinX), MinX, nameof(MaxX), MaxX), (nameof(MinY), MinY, nameof(MaxY), MaxY),
                     (nameof(MinZ), MinZ, nameof(MaxZ), MaxZ), (nameof(MinDistance), (float?)MinDistance, nameof(MaxDistance), MaxDistance),
                 })
        {
            if (min is { } lo && max is { } hi && !(lo < hi))
                yield return new ValidationResult($"{minName} ({NumberText.Format(lo)}) must be less than {maxName} ({NumberText.Format(hi)}).", [minName, maxName]);
        }
    }
}

/// <summary>
/// Range and field-of-view crop. A point is kept when it lies in the axis-aligned box (bounds
/// inclusive, as OpenPCDet's mask_points_by_range), its horizontal range is within
/// [MinDistance, MaxDistance], and its azimuth atan2(y, x) is within FieldOfView/2 of FieldOfViewCenter.
/// </summary>
public sealed class RangeCrop : IPointTransform
{
    private const string Name = "range-crop";
    private readonly float _minX, _maxX, _minY, _maxY, _minZ, _maxZ;
    private readonly float _minDistance, _maxDistance;
    private readonly float _fov, _fovCenter;
    private readonly RangeCropOptions _options;

    public RangeCrop(RangeCropOptions options)
    {
        OptionsValidation.Check(options, Name);

        _options = options;
        _minX = options.MinX ?? float.NegativeInfinity;
        _maxX = options.MaxX ?? float.PositiveInfinity;
        _minY = options.MinY ?? float.NegativeInfinity;
        _maxY = options.MaxY ?? float.PositiveInfinity;
        _minZ = options.MinZ ?? float.NegativeInfinity;
        _maxZ = options.MaxZ ?? float.PositiveInfinity;
        _minDistance = options.MinDistance;
        _maxDistance = options.MaxDistance ?? float.PositiveInfinity;
        _fov = options.FieldOfView;
        _fovCenter = options.FieldOfViewCenter;
    }

    public string Describe()
    {
        var parts = new List<string>();
        string Bound(float? lo, float? hi) => $"[{(lo is { } l ? NumberText.Format(l) : "-inf")}, {(hi is { } h ? NumberText.Format(h) : "inf")}]";
        if (_options.MinX is not null || _options.MaxX is not null) parts.Add("x in " + Bound(_options.MinX, _options.MaxX));
        if (_options.MinY is not null || _options.MaxY is not null) parts.Add("y in " + Bound(_options.MinY, _options.MaxY));
        if (_options.MinZ is not null || _options.MaxZ is not null) parts.Add("z in " + Bound(_options.MinZ, _options.MaxZ));
        if (_options.MinDistance > 0 || _options.MaxDistance is not null)
            parts.Add("horizontal range in " + Bound(_options.MinDistance, _options.MaxDistance) + " m");
        if (_fov < 360) parts.Add($"azimuth within {NumberText.Format(_fov / 2)} deg of {NumberText.Format(_fovCenter)} deg");
        return $"{Name}: " + (parts.Count == 0 ? "no bounds (keeps every point)" : string.Join(", ", parts));
    }

    public Sample Apply(Sample sample, int seed)
    {
        PointRows.Validate(sample, Name);
        var f = sample.PointFeatures;
        var p = sample.Points;
        var n = sample.PointCount;
        var checkDistance = _minDistance > 0 || !float.IsPositiveInfinity(_maxDistance);
        var checkAzimuth = _fov < 360;
        var halfFov = _fov / 2;

        var keep = new bool[n];
        var kept = 0;
        for (var i = 0; i < n; i++)
        {
            float x = p[i * f], y = p[i * f + 1], z = p[i * f + 2];
            var inside = x >= _minX && x <= _maxX && y >= _minY && y <= _maxY && z >= _minZ && z <= _maxZ;
            if (inside && checkDistance)
            {
                var r = MathF.Sqrt(x * x + y * y);
                inside = r >= _minDistance && r <= _maxDistance;
            }
            if (inside && checkAzimuth)
            {
                // Signed angle from the FOV centre, wrapped into [-180, 180).
                var delta = MathF.Atan2(y, x) * (180f / MathF.PI) - _fovCenter;
                delta -= 360f * MathF.Floor((delta + 180f) / 360f);
                inside = MathF.Abs(delta) <= halfFov;
            }
            keep[i] = inside;
            if (inside) kept++;
        }
        return kept == n ? sample : sample with { Points = PointRows.Where(p, f, keep, kept) };
    }
}
