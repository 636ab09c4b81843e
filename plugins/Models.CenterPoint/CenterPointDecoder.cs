using Platform.Abstractions.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// CenterPoint's decoding (sec. 4; OpenPCDet centernet_utils.decode_bbox_from_heatmap): sigmoid heatmap,
/// a 3x3 max-pool keeps only local peaks, top-K over all classes and cells, boxes rebuilt from the
/// regressions at those cells, score threshold, then per-class NMS (rotated BEV IoU, or circle NMS on
/// centre distance). Boxes come out in the lidar frame.
/// </summary>
public sealed class CenterPointDecoder(CenterPointConfig config)
{
    /// <summary>Decodes a batch from the head's outputs (hm logits [B,K,H,W]; center, center_z, dim, rot).</summary>
    public List<List<Box3D>> Decode(IReadOnlyDictionary<string, Tensor> output)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var heat = output["hm"].detach().sigmoid();
        long b = heat.shape[0], k = heat.shape[1], h = heat.shape[2], w = heat.shape[3];
        var pooled = nn.functional.max_pool2d(heat, 3, stride: 1, padding: 1);
        var peaks = heat * (pooled == heat).to_type(heat.dtype);
        var topK = (int)Math.Min(config.MaxDetections, k * h * w);
        var (scores, flat) = peaks.reshape(b, -1).topk(topK, dim: 1);
        var classes = flat.div(h * w, rounding_mode: RoundingMode.floor);
        var cells = flat.remainder(h * w);
        var rows = cells.div(w, rounding_mode: RoundingMode.floor).to_type(ScalarType.Float32);
        var cols = cells.remainder(w).to_type(ScalarType.Float32);

        Tensor At(string name) => output[name].detach().reshape(b, output[name].shape[1], h * w)
            .gather(2, cells.unsqueeze(1).expand(-1, output[name].shape[1], -1));   // [B, C, topK]
        var center = At("center");
        var cell = (float)config.CellSize;
        var r = config.PointCloudRange;
        var x = (cols + center[.., 0]) * cell + r[0];
        var y = (rows + center[.., 1]) * cell + r[1];
        var z = At("center_z")[.., 0];
        var dims = At("dim").exp();
        var rot = At("rot");
        var yaw = atan2(rot[.., 0], rot[.., 1]);
        var boxes = stack([x, y, z, dims[.., 0], dims[.., 1], dims[.., 2], yaw, scores, classes.to_type(ScalarType.Float32)], 2).cpu();
        var values = boxes.data<float>().ToArray();

        var result = new List<List<Box3D>>();
        for (var i = 0; i < b; i++)
        {
            var candidates = new List<Box3D>();
            for (var j = 0; j < topK; j++)
            {
                var o = (i * topK + j) * 9;
                var score = values[o + 7];
                if (score < config.ScoreThreshold) break;   // top-K is sorted by score
                candidates.Add(new Box3D(values[o], values[o + 1], values[o + 2], values[o + 3], values[o + 4], values[o + 5],
                    values[o + 6], (int)values[o + 8], score));
            }
            result.Add(Suppress(candidates));
        }
        return result;
    }

    /// <summary>Greedy NMS within each class, highest score first.</summary>
    public List<Box3D> Suppress(IReadOnlyList<Box3D> candidates)
    {
        var kept = new List<Box3D>();
        foreach (var group in candidates.GroupBy(c => c.ClassId))
        {
            var ordered = group.OrderByDescending(c => c.Score).ToList();
            var keptHere = new List<Box3D>();
            foreach (var box in ordered)
            {
                var suppressed = keptHere.Any(k => config.NmsType == "circle"
                    ? (k.X - box.X) * (k.X - box.X) + (k.Y - box.Y) * (k.Y - box.Y) <= config.NmsThreshold * config.NmsThreshold
                    : BevGeometry.RotatedIoU(k, box) > config.NmsThreshold);
                if (!suppressed) keptHere.Add(box);
            }
            kept.AddRange(keptHere);
        }
        return kept.OrderByDescending(k => k.Score).ToList();
    }
}

/// <summary>Bird's-eye-view geometry of rotated boxes: corners, convex clipping, IoU.</summary>
public static class BevGeometry
{
    public static (double X, double Y)[] Corners(Box3D box)
    {
        double c = Math.Cos(box.Yaw), s = Math.Sin(box.Yaw), l = box.Length / 2.0, w = box.Width / 2.0;
        // Counter-clockwise: front-left, rear-left, rear-right, front-right.
        return [(box.X + c * l - s * w, box.Y + s * l + c * w), (box.X - c * l - s * w, box.Y - s * l + c * w),
                (box.X - c * l + s * w, box.Y - s * l - c * w), (box.X + c * l + s * w, box.Y + s * l - c * w)];
    }

    /// <summary>IoU of the two boxes' BEV rectangles: the intersection is the first clipped by the second (Sutherland-Hodgman).</summary>
    public static double RotatedIoU(Box3D a, Box3D b)
    {
        var areaA = (double)a.Length * a.Width;
        var areaB = (double)b.Length * b.Width;
        if (areaA <= 0 || areaB <= 0) return 0;
        var dx = a.X - b.X;
        var dy = a.Y - b.Y;
        var reach = (Math.Sqrt(a.Length * a.Length + a.Width * a.Width) + Math.Sqrt(b.Length * b.Length + b.Width * b.Width)) / 2;
        if (dx * dx + dy * dy > reach * reach) return 0;
        var polygon = new List<(double X, double Y)>(Corners(a));
        var clip = Corners(b);
        for (var e = 0; e < 4 && polygon.Count > 0; e++)
        {
            var (p, q) = (clip[e], clip[(e + 1) % 4]);
            double Side((double X, double Y) v) => (q.X - p.X) * (v.Y - p.Y) - (q.Y - p.Y) * (v.X - p.X);   // >= 0: inside (left of the edge)
            var next = new List<(double X, double Y)>();
            for (var i = 0; i < polygon.Count; i++)
            {
                var cur = polygon[i];
                var prev = polygon[(i + polygon.Count - 1) % polygon.Count];
                double sc = Side(cur), sp = Side(prev);
                if (sc >= 0)
                {
                    if (sp < 0) next.Add(Lerp(prev, cur, sp / (sp - sc)));
                    next.Add(cur);
                }
                else if (sp >= 0) next.Add(Lerp(prev, cur, sp / (sp - sc)));
            }
            polygon = next;
        }
        double area = 0;
        for (var i = 0; i < polygon.Count; i++)
        {
            var (u, v) = (polygon[i], polygon[(i + 1) % polygon.Count]);
            area += u.X * v.Y - v.X * u.Y;
        }
        var intersection = Math.Abs(area) / 2;
        return intersection / (areaA + areaB - intersection);
    }

    private static (double X, double Y) Lerp((double X, double Y) a, (double X, double Y) b, double t) => (a.X + (b.X - a.X) * t, a.Y + (b.Y - a.Y) * t);
}
