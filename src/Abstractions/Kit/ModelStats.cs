using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>Parameters and FLOPs of a model, counted the one way every report uses.</summary>
/// <param name="Params">All parameter elements.</param>
/// <param name="NonzeroParams">Parameter elements that are not zero (masked weights are zero).</param>
/// <param name="Flops">Multiply-accumulates per sample: each prunable layer counts its non-zero weights
/// times its FLOPs per weight; everything else counts <see cref="IModel.OtherFlopsPerSample"/>.</param>
/// <param name="DenseFlops">The same with every prunable weight counted.</param>
/// <param name="PrunableFlops">The prunable layers' share of <paramref name="Flops"/>.</param>
public sealed record ModelStats(long Params, long NonzeroParams, double Flops, double DenseFlops, double PrunableFlops)
{
    /// <summary>FLOPs are counted as multiply-accumulates (MACs), the convention of pruning papers.</summary>
    public static ModelStats Measure(IModel model) => Measure(model, null);

    /// <summary>The same, with input-dependent layers costed at a measured input (<see cref="IDescribesInput.CostsAt"/>); null: at capacity.</summary>
    public static ModelStats Measure(IModel model, InputCosts? costs)
    {
        using var _ = no_grad();
        long parameters = 0, nonzero = 0;
        foreach (var p in model.Module.parameters())
        {
            parameters += p.numel();
            nonzero += p.count_nonzero().item<long>();
        }
        double prunable = 0, dense = 0;
        foreach (var layer in model.PrunableLayers)
        {
            var perWeight = costs?.FlopsPerWeightOf(layer) ?? layer.FlopsPerWeight;
            prunable += layer.Weight.count_nonzero().item<long>() * perWeight;
            dense += layer.WeightCount * perWeight;
        }
        var other = costs?.OtherFlopsPerSample ?? model.OtherFlopsPerSample;
        return new ModelStats(parameters, nonzero, prunable + other, dense + other, prunable);
    }

    /// <summary>FLOPs of one layer at a given number of surviving weights.</summary>
    public static double LayerFlops(PrunableLayer layer, long survivingWeights) => LayerFlops(layer, survivingWeights, null);

    /// <summary>The same at a measured input (null: at capacity).</summary>
    public static double LayerFlops(PrunableLayer layer, long survivingWeights, InputCosts? costs) =>
        survivingWeights * (costs?.FlopsPerWeightOf(layer) ?? layer.FlopsPerWeight);

    /// <summary>MACs per weight of a 2D convolution: each weight is used once per output position.</summary>
    public static double Conv2dFlopsPerWeight(long outputHeight, long outputWidth) => (double)outputHeight * outputWidth;
}
