using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// The sampling and grouping operators of PointNet++ (Qi et al., NeurIPS 2017, Sec. 3.2), vectorized over the
/// batch: each FPS iteration is one tensor update, ball query is one distance matrix, a sort and a gather.
/// </summary>
public static class PointCloudOps
{
    /// <summary>
    /// Farthest point sampling: starting from point 0, repeatedly pick the point whose distance to the picked
    /// set is largest. <paramref name="xyz"/> is (B, N, 3); returns indices (B, <paramref name="count"/>), int64.
    /// </summary>
    public static Tensor FarthestPointSample(Tensor xyz, int count)
    {
        var (b, n) = (xyz.shape[0], xyz.shape[1]);
        if (count > n) throw new ArgumentException($"Farthest point sampling asked for {count} points out of {n}.");
        using var scope = NewDisposeScope();
        var picked = zeros(new long[] { b, count }, ScalarType.Int64, xyz.device);
        var distance = full(new long[] { b, n }, float.PositiveInfinity, xyz.dtype, xyz.device);
        var farthest = zeros(new long[] { b }, ScalarType.Int64, xyz.device);
        var batchIndex = arange(b, device: xyz.device);
        for (var i = 0; i < count; i++)
        {
            picked[TensorIndex.Colon, i] = farthest;
            var centroid = xyz[batchIndex, farthest].unsqueeze(1);             // (B, 1, 3)
            var d = (xyz - centroid).square().sum(-1);                          // (B, N)
            distance = minimum(distance, d);
            farthest = distance.argmax(-1);
        }
        return picked.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Ball query: for each centroid, the first <paramref name="samples"/> points (in index order) within
    /// <paramref name="radius"/>; a ball with fewer points repeats its first neighbour (the reference
    /// implementation's padding). <paramref name="xyz"/> (B, N, 3), <paramref name="centroids"/> (B, S, 3);
    /// returns (B, S, samples) int64 indices into N.
    /// </summary>
    public static Tensor BallQuery(Tensor xyz, Tensor centroids, double radius, int samples)
    {
        using var scope = NewDisposeScope();
        var n = xyz.shape[1];
        var squared = SquareDistance(centroids, xyz);                           // (B, S, N)
        // Points outside the ball get index N, so they sort after every neighbour.
        var index = arange(n, device: xyz.device).expand(squared.shape).masked_fill(squared > radius * radius, n);
        var k = Math.Min(samples, (int)n);
        var (sorted, _) = index.sort(-1);
        var groups = sorted[TensorIndex.Ellipsis, TensorIndex.Slice(0, k)];
        if (k < samples)
            groups = cat([groups, groups[TensorIndex.Ellipsis, TensorIndex.Slice(0, 1)].expand(-1, -1, samples - k)], -1);
        var first = groups[TensorIndex.Ellipsis, TensorIndex.Slice(0, 1)].expand_as(groups);
        // Every centroid is one of the points, so the first entry is always a real neighbour.
        groups = where(groups == n, first, groups);
        return groups.MoveToOuterDisposeScope();
    }

    /// <summary>Pairwise squared Euclidean distances between (B, S, 3) and (B, N, 3): (B, S, N).</summary>
    public static Tensor SquareDistance(Tensor a, Tensor b) =>
        (a.unsqueeze(2) - b.unsqueeze(1)).square().sum(-1);

    /// <summary>Gathers rows of (B, N, C) by indices (B, ...) into (B, ..., C).</summary>
    public static Tensor Gather(Tensor points, Tensor indices)
    {
        var b = points.shape[0];
        var shape = indices.shape;
        var flat = indices.reshape(b, -1);
        var batchIndex = arange(b, device: points.device).unsqueeze(1).expand_as(flat);
        var gathered = points[batchIndex, flat];                                 // (B, M, C)
        return gathered.reshape([.. shape, points.shape[2]]);
    }
}

/// <summary>
/// <see cref="PointCloudOps"/> as ONNX operators, step for step, so that an exported PointNet++ samples and groups as the
/// model does (same start point, same tie-breaking: ArgMax and TopK keep the first of equal values, as torch does).
/// </summary>
public static class PointCloudGraph
{
    /// <summary>Farthest point sampling of <paramref name="count"/> points of xyz (B, N, 3): an ONNX Loop, one iteration per pick.</summary>
    public static GraphValue FarthestPointSample(IGraphWriter g, GraphValue xyz, int count)
    {
        var shape = g.Op("Shape", xyz);
        var distance = g.Op("Expand", g.Constant(float.PositiveInfinity), g.Slice(shape, 0, 0, 2));       // (B, N)
        var first = g.Op("Expand", g.Constant(tensor(0L)), g.Slice(shape, 0, 0, 1));                       // (B): start at point 0
        var results = g.Loop(g.Constant(tensor((long)count)), [(distance, ScalarType.Float32), (first, ScalarType.Int64)], [ScalarType.Int64],
            (body, _, carried) =>
            {
                var (nearest, farthest) = (carried[0], carried[1]);
                var centroid = body.Unsqueeze(GatherRows(body, xyz, farthest), 1);                          // (B, 1, 3)
                var difference = body.Op("Sub", xyz, centroid);
                var d = body.ReduceSum(body.Op("Mul", difference, difference), [-1]);                       // (B, N)
                var updated = body.Op("Min", nearest, d);
                var next = body.Op("ArgMax", [updated], new Dictionary<string, object> { ["axis"] = -1L, ["keepdims"] = 0L });
                return ([updated, next], [farthest]);
            });
        return g.Transpose(results[2], 1, 0);                                                              // (count, B) -> (B, count)
    }

    /// <summary>Ball query as <see cref="PointCloudOps.BallQuery"/>; <paramref name="points"/>: N, the number of points in xyz.</summary>
    public static GraphValue BallQuery(IGraphWriter g, GraphValue xyz, GraphValue centroids, double radius, int samples, long points)
    {
        var difference = g.Op("Sub", g.Unsqueeze(centroids, 2), g.Unsqueeze(xyz, 1));
        var squared = g.ReduceSum(g.Op("Mul", difference, difference), [-1]);                             // (B, S, N)
        var outside = g.Op("Greater", squared, g.Constant((float)(radius * radius)));
        var index = g.Op("Where", outside, g.Constant(tensor(points)), g.Constant(arange(points)));       // outside: N, sorts last
        var k = Math.Min(samples, points);
        var groups = g.Op("TopK", [index, g.Constant(k)], 2, new Dictionary<string, object> { ["axis"] = -1L, ["largest"] = 0L, ["sorted"] = 1L })[0];
        var first = g.Slice(groups, 2, 0, 1);
        if (k < samples) groups = g.Concat(2, groups, g.Op("Tile", first, g.Constant(1, 1, samples - k)));
        return g.Op("Where", g.Op("Equal", groups, g.Constant(tensor(points))), first, groups);
    }

    /// <summary>Rows of (B, N, C) at indices (B, ...): (B, ..., C), as <see cref="PointCloudOps.Gather"/>.</summary>
    public static GraphValue GatherRows(IGraphWriter g, GraphValue rows, GraphValue indices) =>
        g.Op("GatherND", [rows, g.Unsqueeze(indices, -1)], new Dictionary<string, object> { ["batch_dims"] = 1L });
}
