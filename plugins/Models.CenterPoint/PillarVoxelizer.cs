using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>Pillars of one batch: padded points, how many are real, and where each pillar sits.</summary>
/// <param name="Points">[P, M, 4] x, y, z, reflectance; slots past a pillar's count are zero.</param>
/// <param name="Counts">[P] int64 points kept in each pillar (1..M).</param>
/// <param name="Coords">[P, 3] int64 (batch index, row iy, column ix) on the pillar grid.</param>
public sealed record Pillars(Tensor Points, Tensor Counts, Tensor Coords);

/// <summary>The pillar encoder's options: voxelization (<see cref="PillarVoxelizer"/>) and the pillar feature net (<c>PillarFeatureNet</c>).</summary>
public sealed class PillarEncoderOptions
{
    [Description("Pillar edge in metres (x and y). kitti: 0.16.")]
    [Range(0.01, 10.0)]
    public double PillarSize { get; set; } = 0.32;

    [Description("Points kept per pillar (extra points are dropped, in input order). kitti: 32.")]
    [Range(1, 1024)]
    public int MaxPointsPerPillar { get; set; } = 16;

    [Description("Pillars kept per frame (the most populated ones). kitti: 16000.")]
    [Range(1, 1000000)]
    public int MaxPillars { get; set; } = 8000;

    [Description("Channels of the pillar feature net (linear + norm + ReLU, max over points). kitti: 64.")]
    [Range(1, 4096)]
    public int Channels { get; set; } = 32;

    [Description("Where points are binned into pillars: 'Host' (loops in .NET, then one copy of the pillars to the run's device) or 'Device' (tensor ops on the run's device). Both give the same pillars; Host was the faster on an H200 and on CPUs (bench/results/gpu.md).")]
    public Voxelization Voxelization { get; set; } = Voxelization.Host;
}

/// <summary>Where <see cref="PillarVoxelizer"/> bins the points (<see cref="PillarEncoderOptions.Voxelization"/>).</summary>
public enum Voxelization
{
    /// <summary>Counting sort in .NET loops: no kernel launches and no device synchronisations; only the pillars travel.</summary>
    Host,

    /// <summary>Sort, unique and scatter tensor ops on the run's device: each frame's cloud travels, then about 40 kernels and 6 synchronisations run.</summary>
    Device,
}

/// <summary>
/// PointPillars' voxelization (Lang et al., CVPR 2019, sec. 2.1) done with tensor ops: points are binned
/// into x-y pillars, a stable sort keeps each pillar's points in input order, and when there are more
/// pillars or points than the caps, the most populated pillars and each pillar's first points are kept.
/// The same cloud always gives the same pillars (no random sampling). It runs on the device it is given, so that on
/// cuda the batch is binned where the model runs (on CPU, collate took 2.3x the forward pass on an H200; issue 13).
/// </summary>
public sealed class PillarVoxelizer(PillarEncoderOptions options, BevGrid grid)
{
    public Pillars Voxelize(IReadOnlyList<float[]> clouds, int pointFeatures, Device? device = null)
    {
        if (options.Voxelization == Voxelization.Host) return VoxelizeOnHost(clouds, pointFeatures, device ?? CPU);
        var parts = clouds.Select((c, b) => VoxelizeOne(c, pointFeatures, b, device)).ToList();
        var result = new Pillars(cat(parts.Select(p => p.Points).ToList(), 0), cat(parts.Select(p => p.Counts).ToList(), 0), cat(parts.Select(p => p.Coords).ToList(), 0));
        foreach (var p in parts) { p.Points.Dispose(); p.Counts.Dispose(); p.Coords.Dispose(); }
        return result;
    }

    public Pillars VoxelizeOne(float[] cloud, int pointFeatures, int batchIndex, Device? device = null)
    {
        device ??= CPU;
        CheckLayout(cloud, pointFeatures);
        var r = grid.PointCloudRange;
        int nx = grid.GridX, ny = grid.GridY, maxPoints = options.MaxPointsPerPillar;
        using var scope = NewDisposeScope();
        var raw = tensor(cloud, device: device).reshape(-1, pointFeatures);
        // x, y, z, reflectance (zero when the data has none).
        var points = pointFeatures >= 4 ? raw[.., ..4] : cat([raw, zeros(raw.shape[0], 4 - pointFeatures, device: device)], 1);
        var inRange = (points[.., 0] >= r[0]) & (points[.., 0] < r[3]) & (points[.., 1] >= r[1]) & (points[.., 1] < r[4])
                      & (points[.., 2] >= r[2]) & (points[.., 2] < r[5]);
        points = points[inRange];
        if (points.shape[0] == 0)
            return new Pillars(zeros(0, maxPoints, 4, device: device).MoveToOuterDisposeScope(), zeros(0, dtype: ScalarType.Int64, device: device).MoveToOuterDisposeScope(),
                zeros(0, 3, dtype: ScalarType.Int64, device: device).MoveToOuterDisposeScope());

        var ix = ((points[.., 0] - r[0]) / grid.PillarSize).floor().to_type(ScalarType.Int64).clamp(0, nx - 1);
        var iy = ((points[.., 1] - r[1]) / grid.PillarSize).floor().to_type(ScalarType.Int64).clamp(0, ny - 1);
        var key = iy * nx + ix;
        var (sortedKey, order) = key.sort(stable: true);
        var sorted = points.index_select(0, order);
        var (pillarKeys, _, countsOrNull) = unique_consecutive(sortedKey, return_counts: true);
        var counts = countsOrNull!;
        var pillarCount = pillarKeys.shape[0];

        // Rank of each point inside its pillar: its position minus the pillar's first position.
        var pillarOfPoint = repeat_interleave(arange(pillarCount, dtype: ScalarType.Int64, device: device), counts);
        var first = counts.cumsum(0) - counts;
        var rank = arange(sorted.shape[0], dtype: ScalarType.Int64, device: device) - first.index_select(0, pillarOfPoint);

        // Over the cap, keep the most populated pillars (ties: lower grid index); kept pillars stay in grid order.
        var keepPillar = ones(pillarCount, dtype: ScalarType.Bool, device: device);
        if (pillarCount > options.MaxPillars)
        {
            var (_, byCount) = counts.sort(descending: true, stable: true);
            keepPillar = zeros(pillarCount, dtype: ScalarType.Bool, device: device).index_fill_(0, byCount[..options.MaxPillars], true);
        }
        var newIndex = keepPillar.to_type(ScalarType.Int64).cumsum(0) - 1;
        var keptPillars = (int)keepPillar.sum().item<long>();
        var keepPoint = (rank < maxPoints) & keepPillar.index_select(0, pillarOfPoint);

        var slot = newIndex.index_select(0, pillarOfPoint)[keepPoint] * maxPoints + rank[keepPoint];
        var padded = zeros(keptPillars * maxPoints, 4, device: device).index_copy_(0, slot, sorted[keepPoint]).reshape(keptPillars, maxPoints, 4);
        var keptKeys = pillarKeys[keepPillar];
        var coords = stack([full_like(keptKeys, batchIndex), keptKeys.div(nx, rounding_mode: RoundingMode.floor), keptKeys.remainder(nx)], 1);
        return new Pillars(padded.MoveToOuterDisposeScope(), counts[keepPillar].clamp_max(maxPoints).MoveToOuterDisposeScope(), coords.MoveToOuterDisposeScope());
    }

    private static void CheckLayout(float[] cloud, int pointFeatures)
    {
        if (pointFeatures < 3) throw new ArgumentException($"CenterPoint needs at least x, y, z per point; the sample has {pointFeatures} features.");
        if (cloud.Length % pointFeatures != 0) throw new ArgumentException($"A point cloud of {cloud.Length} floats is not a whole number of {pointFeatures}-feature points.");
    }

    /// <summary>
    /// The same pillars as <see cref="VoxelizeOne"/>, binned by a counting sort over the grid's cells in .NET and written
    /// straight into the batch's CPU tensors, which are then copied once to <paramref name="device"/>. The float arithmetic
    /// is the tensor path's on the CPU (float32 subtraction, then division, then floor), so both put every point in the
    /// same cell.
    /// </summary>
    public Pillars VoxelizeOnHost(IReadOnlyList<float[]> clouds, int pointFeatures, Device device)
    {
        var frames = new List<FrameBins>();
        try
        {
            for (var b = 0; b < clouds.Count; b++) frames.Add(Bin(clouds[b], pointFeatures));
            int maxPoints = options.MaxPointsPerPillar, pillars = frames.Sum(f => f.Kept.Count);
            // Filled in place (the tensor's own memory): a managed array handed to tensor() would cost one more copy and
            // a fresh allocation per frame, which together took longer than the binning.
            var points = zeros(pillars, maxPoints, 4);
            var slots = pillars == 0 ? [] : MemoryMarshal.Cast<byte, float>(points.bytes);
            var counts = new long[pillars];
            var coords = new long[pillars * 3];
            var first = 0;
            for (var b = 0; b < frames.Count; b++)
            {
                Fill(frames[b], clouds[b], pointFeatures, b, first, slots, counts, coords);
                first += frames[b].Kept.Count;
            }
            return new Pillars(OnDevice(points, device), OnDevice(tensor(counts, [pillars]), device), OnDevice(tensor(coords, [pillars, 3]), device));
        }
        finally
        {
            foreach (var frame in frames) frame.Return();
        }
    }

    private static Tensor OnDevice(Tensor cpu, Device device)
    {
        if (device.type == TorchSharp.DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    /// <summary>One frame's in-range points in input order with their cells, and its pillars: every cell met, and those kept.</summary>
    private sealed class FrameBins(int[] pointOf, int[] cellOf, int inRange, List<int> cells, List<int> kept)
    {
        public int[] PointOf => pointOf;
        public int[] CellOf => cellOf;
        public int InRange => inRange;
        public List<int> Cells => cells;
        public List<int> Kept => kept;

        public void Return()
        {
            ArrayPool<int>.Shared.Return(pointOf);
            ArrayPool<int>.Shared.Return(cellOf);
        }
    }

    /// <summary>
    /// Float to int toward zero. .NET's cast saturates out-of-range values, which costs extra instructions per conversion
    /// on x64 without AVX-512; the bare instruction is exact wherever the result is used (in-range points).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Truncate(float value) =>
        Sse.IsSupported ? Sse.ConvertToInt32WithTruncation(Vector128.CreateScalarUnsafe(value)) : (int)value;

    // Optimised at first call: a latency measurement makes only tens of calls, fewer than tiered compilation needs to
    // replace the unoptimised first version of these loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private FrameBins Bin(float[] cloud, int pointFeatures)
    {
        CheckLayout(cloud, pointFeatures);
        var r = grid.PointCloudRange;
        int nx = grid.GridX, ny = grid.GridY, n = cloud.Length / pointFeatures;
        var size = (float)grid.PillarSize;
        var pointOf = ArrayPool<int>.Shared.Rent(n);
        var cellOf = ArrayPool<int>.Shared.Rent(n);
        var perCell = ArrayPool<int>.Shared.Rent(nx * ny);
        try
        {
            float x0 = r[0], y0 = r[1], z0 = r[2], x1 = r[3], y1 = r[4], z1 = r[5];
            var inRange = 0;
            for (var i = 0; i < n; i++)
            {
                float x = cloud[i * pointFeatures], y = cloud[i * pointFeatures + 1], z = cloud[i * pointFeatures + 2];
                // Without branches: whether a lidar point falls in range is a coin toss the processor cannot predict. Every
                // point's cell is written, and the next point overwrites it unless this one was in range. In range,
                // x - r[0] >= 0 exactly, so truncation is the floor, and only the upper clamp can act (rounding just below r[3]).
                var inside = (x >= x0) & (x < x1) & (y >= y0) & (y < y1) & (z >= z0) & (z < z1);
                pointOf[inRange] = i;
                cellOf[inRange] = Math.Min(Truncate((y - y0) / size), ny - 1) * nx + Math.Min(Truncate((x - x0) / size), nx - 1);
                inRange += inside ? 1 : 0;
            }
            Array.Clear(perCell, 0, nx * ny);
            var cells = new List<int>();
            for (var j = 0; j < inRange; j++)
                if (perCell[cellOf[j]]++ == 0) cells.Add(cellOf[j]);
            cells.Sort();
            // Over the cap, the most populated pillars (ties: lower grid index) are kept, and stay in grid order.
            var kept = cells;
            if (cells.Count > options.MaxPillars)
            {
                var chosen = new HashSet<int>(cells.OrderByDescending(c => perCell[c]).Take(options.MaxPillars));
                kept = cells.Where(chosen.Contains).ToList();
            }
            return new FrameBins(pointOf, cellOf, inRange, cells, kept);
        }
        catch
        {
            ArrayPool<int>.Shared.Return(pointOf);
            ArrayPool<int>.Shared.Return(cellOf);
            throw;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(perCell);
        }
    }

    /// <summary>Writes a frame's kept pillars from row <paramref name="first"/> on: points in input order, zero reflectance when the data has none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Fill(FrameBins frame, float[] cloud, int pointFeatures, int batchIndex, int first, Span<float> slots, long[] counts, long[] coords)
    {
        int nx = grid.GridX, maxPoints = options.MaxPointsPerPillar, features = Math.Min(pointFeatures, 4);
        var slotOf = ArrayPool<int>.Shared.Rent(nx * grid.GridY);
        try
        {
            foreach (var cell in frame.Cells) slotOf[cell] = -1;
            for (var k = 0; k < frame.Kept.Count; k++)
            {
                var p = first + k;
                slotOf[frame.Kept[k]] = p;
                coords[p * 3] = batchIndex;
                coords[p * 3 + 1] = frame.Kept[k] / nx;
                coords[p * 3 + 2] = frame.Kept[k] % nx;
            }
            int[] pointOf = frame.PointOf, cellOf = frame.CellOf;
            for (var j = 0; j < frame.InRange; j++)
            {
                var p = slotOf[cellOf[j]];
                if (p < 0 || counts[p] == maxPoints) continue;
                // Element by element: Array.Copy's call costs more than four floats.
                int to = (int)(p * maxPoints + counts[p]) * 4, from = pointOf[j] * pointFeatures;
                for (var f = 0; f < features; f++) slots[to + f] = cloud[from + f];
                counts[p]++;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(slotOf);
        }
    }
}
