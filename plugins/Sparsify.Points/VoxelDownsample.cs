using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Runtime.InteropServices;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Sparsify.Points;

/// <summary>Which point stands for a voxel.</summary>
public enum VoxelMode
{
    /// <summary>The mean of every feature (x, y, z, reflectance, ...) over the voxel's points.</summary>
    Centroid,

    /// <summary>The voxel's first point in the cloud's order, unchanged.</summary>
    First,
}

public sealed class VoxelDownsampleOptions
{
    [Description("Voxel edge in metres, used for every axis whose own size is not set.")]
    [Range(1e-4, 1e3)]
    public float VoxelSize { get; set; } = 0.1f;

    [Description("Voxel size along x in metres; unset means VoxelSize.")]
    [Range(1e-4, 1e3)]
    public float? VoxelSizeX { get; set; }

    [Description("Voxel size along y in metres; unset means VoxelSize.")]
    [Range(1e-4, 1e3)]
    public float? VoxelSizeY { get; set; }

    [Description("Voxel size along z in metres; unset means VoxelSize.")]
    [Range(1e-4, 1e3)]
    public float? VoxelSizeZ { get; set; }

    [Description("Centroid: one point per voxel holding the mean of all its points' features; First: the voxel's first point as it was.")]
    public VoxelMode Mode { get; set; } = VoxelMode.Centroid;
}

/// <summary>
/// Voxel-grid downsampling: one point per occupied voxel. The grid is anchored at the sensor origin
/// (voxel index = floor(coordinate / size)), so the same place falls in the same voxel in every frame,
/// whatever the cloud's extent. Output points are in the order their voxels were first hit.
/// </summary>
public sealed class VoxelDownsample : IPointTransform
{
    private const string Name = "voxel-downsample";
    private readonly float _sizeX, _sizeY, _sizeZ;
    private readonly VoxelMode _mode;

    public VoxelDownsample(VoxelDownsampleOptions options)
    {
        OptionsValidation.Check(options, Name);
        if (!Enum.IsDefined(options.Mode))
            throw new ArgumentOutOfRangeException(nameof(options.Mode), options.Mode, $"{Name}: option Mode must be Centroid or First (got {options.Mode}).");
        _sizeX = options.VoxelSizeX ?? options.VoxelSize;
        _sizeY = options.VoxelSizeY ?? options.VoxelSize;
        _sizeZ = options.VoxelSizeZ ?? options.VoxelSize;
        _mode = options.Mode;
    }

    public string Describe() =>
        _sizeX == _sizeY && _sizeY == _sizeZ
            ? $"{Name}: {NumberText.Format(_sizeX)} m voxels, {ModeText}"
            : $"{Name}: {NumberText.Format(_sizeX)} x {NumberText.Format(_sizeY)} x {NumberText.Format(_sizeZ)} m voxels, {ModeText}";

    private string ModeText => _mode == VoxelMode.Centroid ? "centroid of all features per voxel" : "first point per voxel";

    public Sample Apply(Sample sample, int seed)
    {
        PointRows.Validate(sample, Name);
        var f = sample.PointFeatures;
        var points = sample.Points;
        var n = sample.PointCount;
        if (n == 0) return sample;

        // Pass 1: voxel of every point -> slot, slots numbered by first hit (so "first" keeps cloud order).
        var slots = new Dictionary<long, int>(Math.Min(n, 1 << 16));
        var slotOfPoint = new int[n];
        var firstPoint = new int[n];
        var occupied = 0;
        for (var i = 0; i < n; i++)
        {
            // 21 bits per axis index (two's complement, masked) pack the voxel into one long key.
            var key = (VoxelIndex(points[i * f], _sizeX, sample, i, "x") & AxisMask) << (2 * AxisBits)
                    | (VoxelIndex(points[i * f + 1], _sizeY, sample, i, "y") & AxisMask) << AxisBits
                    | (VoxelIndex(points[i * f + 2], _sizeZ, sample, i, "z") & AxisMask);
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(slots, key, out var exists);
            if (!exists)
            {
                slot = occupied;
                firstPoint[occupied++] = i;
            }
            slotOfPoint[i] = slot;
        }

        var result = new float[occupied * f];
        if (_mode == VoxelMode.First)
        {
            for (var s = 0; s < occupied; s++)
                points.AsSpan(firstPoint[s] * f, f).CopyTo(result.AsSpan(s * f, f));
        }
        else
        {
            // Pass 2: per-voxel sums in double so a voxel of thousands of points averages without drift.
            var sums = new double[occupied * f];
            var counts = new int[occupied];
            for (var i = 0; i < n; i++)
            {
                var s = slotOfPoint[i];
                counts[s]++;
                var row = i * f;
                var acc = s * f;
                for (var c = 0; c < f; c++) sums[acc + c] += points[row + c];
            }
            for (var s = 0; s < occupied; s++)
                for (var c = 0; c < f; c++)
                    result[s * f + c] = (float)(sums[s * f + c] / counts[s]);
        }
        return sample with { Points = result };
    }

    private const int AxisBits = 21;
    private const long AxisMask = (1L << AxisBits) - 1;
    private const double MaxAxisIndex = (1 << (AxisBits - 1)) - 1; // +-1,048,575 voxels: +-105 km at 0.1 m

    private static long VoxelIndex(float coordinate, float size, Sample sample, int point, string axis)
    {
        var index = Math.Floor((double)coordinate / size);
        if (!(index >= -MaxAxisIndex - 1 && index <= MaxAxisIndex))
            throw new ArgumentException($"{Name}: sample '{sample.Id}' point {point} has {axis}={coordinate}, which has no voxel at size {size} m (not finite, or over {MaxAxisIndex} voxels from the origin).");
        return (long)index;
    }
}
