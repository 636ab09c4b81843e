using System.Buffers;
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
        if (pointFeatures < 3) throw new ArgumentException($"CenterPoint needs at least x, y, z per point; the sample has {pointFeatures} features.");
        if (cloud.Length % pointFeatures != 0) throw new ArgumentException($"A point cloud of {cloud.Length} floats is not a whole number of {pointFeatures}-feature points.");
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

    /// <summary>
    /// The same pillars as <see cref="VoxelizeOne"/>, binned by a counting sort over the grid's cells in .NET; the batch's
    /// pillars then become three tensors copied once to <paramref name="device"/>. The float arithmetic is the tensor
    /// path's on the CPU (float32 subtraction, then division, then floor), so both put every point in the same cell.
    /// </summary>
    public Pillars VoxelizeOnHost(IReadOnlyList<float[]> clouds, int pointFeatures, Device device)
    {
        var frames = clouds.Select((c, b) => BinOnHost(c, pointFeatures, b)).ToList();
        int maxPoints = options.MaxPointsPerPillar;
        if (frames.Count == 1)
        {
            var (framePoints, frameCounts, frameCoords) = frames[0];
            return new Pillars(OnDevice(tensor(framePoints, [frameCounts.Length, maxPoints, 4]), device), OnDevice(tensor(frameCounts, [frameCounts.Length]), device),
                OnDevice(tensor(frameCoords, [frameCounts.Length, 3]), device));
        }
        var pillars = frames.Sum(f => f.Counts.Length);
        var points = new float[pillars * maxPoints * 4];
        var counts = new long[pillars];
        var coords = new long[pillars * 3];
        var at = 0;
        foreach (var frame in frames)
        {
            frame.Points.CopyTo(points, at * maxPoints * 4);
            frame.Counts.CopyTo(counts, at);
            frame.Coords.CopyTo(coords, at * 3);
            at += frame.Counts.Length;
        }
        return new Pillars(OnDevice(tensor(points, [pillars, maxPoints, 4]), device), OnDevice(tensor(counts, [pillars]), device),
            OnDevice(tensor(coords, [pillars, 3]), device));
    }

    private static Tensor OnDevice(Tensor cpu, Device device)
    {
        if (device.type == TorchSharp.DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    private (float[] Points, long[] Counts, long[] Coords) BinOnHost(float[] cloud, int pointFeatures, int batchIndex)
    {
        if (pointFeatures < 3) throw new ArgumentException($"CenterPoint needs at least x, y, z per point; the sample has {pointFeatures} features.");
        if (cloud.Length % pointFeatures != 0) throw new ArgumentException($"A point cloud of {cloud.Length} floats is not a whole number of {pointFeatures}-feature points.");
        var r = grid.PointCloudRange;
        int nx = grid.GridX, ny = grid.GridY, maxPoints = options.MaxPointsPerPillar, n = cloud.Length / pointFeatures;
        var size = (float)grid.PillarSize;
        // Each point's cell (-1 out of range) and each cell's point count; the cells met, in grid order, are the pillars.
        var cellOf = new int[n];
        var perCell = ArrayPool<int>.Shared.Rent(nx * ny);
        var slotOf = ArrayPool<int>.Shared.Rent(nx * ny);
        try
        {
            Array.Clear(perCell, 0, nx * ny);
            var cells = new List<int>();
            float x0 = r[0], y0 = r[1], z0 = r[2], x1 = r[3], y1 = r[4], z1 = r[5];
            for (var i = 0; i < n; i++)
            {
                float x = cloud[i * pointFeatures], y = cloud[i * pointFeatures + 1], z = cloud[i * pointFeatures + 2];
                if (!(x >= x0 && x < x1 && y >= y0 && y < y1 && z >= z0 && z < z1)) { cellOf[i] = -1; continue; }
                // x >= r[0] makes x - r[0] >= 0 exactly, so truncation is the floor, and only the upper clamp can act
                // (rounding at x just below r[3]). MathF.Floor is a library call on CPUs without SSE4.1.
                var ix = Math.Min((int)((x - x0) / size), nx - 1);
                var iy = Math.Min((int)((y - y0) / size), ny - 1);
                var cell = cellOf[i] = iy * nx + ix;
                if (perCell[cell]++ == 0) cells.Add(cell);
            }
            cells.Sort();
            // Over the cap, the most populated pillars (ties: lower grid index) are kept, and stay in grid order.
            var kept = cells;
            if (cells.Count > options.MaxPillars)
            {
                var chosen = new HashSet<int>(cells.OrderByDescending(c => perCell[c]).Take(options.MaxPillars));
                kept = cells.Where(chosen.Contains).ToList();
            }
            foreach (var cell in cells) slotOf[cell] = -1;
            var counts = new long[kept.Count];
            var coords = new long[kept.Count * 3];
            for (var p = 0; p < kept.Count; p++)
            {
                slotOf[kept[p]] = p;
                coords[p * 3] = batchIndex;
                coords[p * 3 + 1] = kept[p] / nx;
                coords[p * 3 + 2] = kept[p] % nx;
            }
            // Points fill their pillar's slots in input order; reflectance is zero when the data has none.
            var points = new float[kept.Count * maxPoints * 4];
            var features = Math.Min(pointFeatures, 4);
            for (var i = 0; i < n; i++)
            {
                if (cellOf[i] < 0) continue;
                var p = slotOf[cellOf[i]];
                if (p < 0 || counts[p] == maxPoints) continue;
                // Element by element: Array.Copy's call costs more than four floats (half the collate time on 27k points).
                var to = (int)(p * maxPoints + counts[p]) * 4;
                for (var f = 0; f < features; f++) points[to + f] = cloud[i * pointFeatures + f];
                counts[p]++;
            }
            return (points, counts, coords);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(perCell);
            ArrayPool<int>.Shared.Return(slotOf);
        }
    }
}
