using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// CenterPoint's decoding (sec. 4; OpenPCDet centernet_utils.decode_bbox_from_heatmap): sigmoid heatmap,
/// a 3x3 max-pool keeps only local peaks, top-K over all classes and cells, boxes rebuilt from the
/// regressions at those cells, score threshold, then per-class NMS (rotated BEV IoU, or circle NMS on
/// centre distance). Boxes come out in the lidar frame.
/// </summary>
/// <param name="config">The post-processing options.</param>
/// <param name="grid">Where the feature map's cells lie.</param>
public sealed class CenterPointDecoder(PostProcessingOptions config, BevGrid grid)
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
        var cell = (float)grid.CellSize;
        var r = grid.PointCloudRange;
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
                    : RotatedRectangle.BevIou(k, box) > config.NmsThreshold);
                if (!suppressed) keptHere.Add(box);
            }
            kept.AddRange(keptHere);
        }
        return kept.OrderByDescending(k => k.Score).ToList();
    }
}
