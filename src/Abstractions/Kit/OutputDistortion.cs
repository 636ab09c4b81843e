using Platform.Abstractions.Models;
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
    public double For(DistortionGroup group) => group switch
    {
        DistortionGroup.Confidence => Confidence,
        DistortionGroup.Locality => Locality,
        _ => Logits,
    };
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
}
