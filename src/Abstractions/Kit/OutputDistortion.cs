using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// The distortion between a reference (dense) and a compressed model's outputs, over the outputs the
/// model declares in <see cref="IModel.DistortionOutputs"/>: the mean squared difference of each, summed
/// with a weight per group (confidence, locality, logits). DM3D's detection distortion is this with
/// heatmaps as confidence and box regressions as locality.
/// </summary>
public sealed record DistortionWeights(double Confidence = 1, double Locality = 1, double Logits = 1)
{
    /// <summary>How outputs are compared: every element alike, or as a heatmap detector uses them.</summary>
    public DistortionKind Kind { get; init; } = DistortionKind.Raw;

    /// <summary>DetectionAware: a cell is foreground (and a peak may sit there) where the dense sigmoid score exceeds this.</summary>
    public double ForegroundThreshold { get; init; } = 0.1;

    /// <summary>DetectionAware: weight of a foreground cell in the heatmap term; background cells weigh 1.</summary>
    public double ForegroundWeight { get; init; } = 10;

    /// <summary>DetectionAware: at most this many peaks per sample and class are where regression outputs are compared.</summary>
    public int PeaksPerClass { get; init; } = 50;

    public double For(DistortionGroup group) => group switch
    {
        DistortionGroup.Confidence => Confidence,
        DistortionGroup.Locality => Locality,
        _ => Logits,
    };
}

/// <summary>How a distortion compares outputs.</summary>
public enum DistortionKind
{
    /// <summary>Mean squared difference of every element of every declared output (DM3D's detection distortion).</summary>
    Raw,

    /// <summary>
    /// Confidence outputs (logits) compared in sigmoid space, foreground cells weighted up; locality outputs only at
    /// the dense model's peaks, where a detector decodes them (issue 10 §3: most regression cells are untrained noise).
    /// </summary>
    DetectionAware,
}

public static class OutputDistortion
{
    /// <summary>Per-output transformed tensor (sigmoid where declared) that the distortion compares.</summary>
    public static Tensor Comparable(ModelOutput output, DistortionOutput spec)
    {
        var t = output[spec.Name];
        return spec.ApplySigmoid ? t.sigmoid() : t;
    }

    /// <summary>Σ_outputs weight(group) · mean((a − b)²); a scalar tensor (differentiable in <paramref name="compressed"/>).</summary>
    public static Tensor Between(IModel model, ModelOutput reference, ModelOutput compressed, DistortionWeights weights)
    {
        if (weights.Kind == DistortionKind.DetectionAware) return DetectionAware(model, reference, compressed, weights);
        Tensor? total = null;
        foreach (var spec in model.DistortionOutputs)
        {
            var w = weights.For(spec.Group);
            if (w == 0) continue;
            var term = (Comparable(compressed, spec) - Comparable(reference, spec).detach()).square().mean() * w;
            total = total is null ? term : total + term;
        }
        return total ?? throw new InvalidOperationException("The model declares no distortion outputs.");
    }

    /// <summary>
    /// Heatmaps: Σ w·(σ(a) − σ(b))² / Σ w with w = ForegroundWeight where the dense σ(b) &gt; ForegroundThreshold, else 1.
    /// Regressions: mean squared difference over channels at the dense model's peak cells, averaged over the peaks
    /// (0 where the dense model sees nothing). Peaks: cells of the first confidence output above the threshold that are
    /// the maximum of their 3x3 neighbourhood (maps [B, K, H, W]; any cell of other shapes), the PeaksPerClass highest
    /// per sample and class. Logits: as Raw.
    /// </summary>
    public static Tensor DetectionAware(IModel model, ModelOutput reference, ModelOutput compressed, DistortionWeights weights)
    {
        var confidence = model.DistortionOutputs.FirstOrDefault(o => o.Group == DistortionGroup.Confidence);
        Tensor? peaks = null;
        Tensor? total = null;
        foreach (var spec in model.DistortionOutputs)
        {
            var w = weights.For(spec.Group);
            if (w == 0) continue;
            var a = compressed[spec.Name];
            var b = reference[spec.Name].detach();
            Tensor term;
            switch (spec.Group)
            {
                case DistortionGroup.Confidence:
                {
                    var q = b.sigmoid();
                    var cellWeight = q.gt(weights.ForegroundThreshold).to(a.dtype) * (weights.ForegroundWeight - 1) + 1;
                    term = (cellWeight * (a.sigmoid() - q).square()).sum() / cellWeight.sum();
                    break;
                }
                case DistortionGroup.Locality when confidence is not null:
                {
                    peaks ??= PeakCells(reference[confidence.Name].detach().sigmoid(), weights);
                    var mask = peaks.to(a.dtype);
                    var count = mask.sum() * a.shape[1];
                    term = ((a - b).square() * mask).sum() / count.clamp_min(1);
                    break;
                }
                default:
                    term = (Comparable(compressed, spec) - Comparable(reference, spec).detach()).square().mean();
                    break;
            }
            term = term * w;
            total = total is null ? term : total + term;
        }
        return total ?? throw new InvalidOperationException("The model declares no distortion outputs.");
    }

    /// <summary>[B, 1, ...]: true where any class of the dense scores <paramref name="q"/> [B, K, ...] has one of its kept peaks.</summary>
    public static Tensor PeakCells(Tensor q, DistortionWeights weights)
    {
        var candidates = q.gt(weights.ForegroundThreshold);
        if (q.dim() == 4)
            candidates = candidates.logical_and(q.eq(nn.functional.max_pool2d(q, 3, stride: 1, padding: 1)));
        var scores = q * candidates.to(q.dtype);
        var flat = q.dim() == 2 ? scores.unsqueeze(-1) : scores.flatten(2); // [B, K, cells]
        var k = Math.Min(weights.PeaksPerClass, flat.shape[2]);
        var top = flat.topk((int)k, dim: 2);
        // Keep only top-k entries that are real peaks (non-peaks were zeroed above).
        var kept = zeros_like(flat, dtype: ScalarType.Bool).scatter(2, top.indexes, top.values.gt(0));
        var shape = q.shape.ToArray();
        shape[1] = 1;
        return kept.any(1).reshape(shape);
    }
}
