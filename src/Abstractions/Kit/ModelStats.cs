using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>Weights and multiply-accumulates per sample of a prunable layer (or a part of the network), dense and now.</summary>
public sealed record LayerCost(string Name, long Weights, long NonzeroWeights, double DenseFlops, double Flops);

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
        var layers = Layers(model, costs);
        double prunable = layers.Sum(l => l.Flops), dense = layers.Sum(l => l.DenseFlops);
        var other = costs?.OtherFlopsPerSample ?? model.OtherFlopsPerSample;
        return new ModelStats(parameters, nonzero, prunable + other, dense + other, prunable);
    }

    /// <summary>Each prunable layer's weights and FLOPs, dense and as it is now (at a measured input; null: at capacity).</summary>
    public static IReadOnlyList<LayerCost> Layers(IModel model, InputCosts? costs = null)
    {
        using var _ = no_grad();
        return model.PrunableLayers.Select(layer =>
        {
            var nonzero = layer.Weight.count_nonzero().item<long>();
            return new LayerCost(layer.Name, layer.WeightCount, nonzero, LayerFlops(layer, layer.WeightCount, costs), LayerFlops(layer, nonzero, costs));
        }).ToList();
    }

    /// <summary>The same summed by top-level part of the network: the first segment of each layer's name ("backbone", "head").</summary>
    public static IReadOnlyList<LayerCost> ByPart(IModel model, InputCosts? costs = null) =>
        Layers(model, costs)
            .GroupBy(l => l.Name.Split('.')[0])
            .Select(g => new LayerCost(g.Key, g.Sum(l => l.Weights), g.Sum(l => l.NonzeroWeights), g.Sum(l => l.DenseFlops), g.Sum(l => l.Flops)))
            .ToList();

    /// <summary>FLOPs of one layer at a given number of surviving weights.</summary>
    public static double LayerFlops(PrunableLayer layer, long survivingWeights) => LayerFlops(layer, survivingWeights, null);

    /// <summary>The same at a measured input (null: at capacity).</summary>
    public static double LayerFlops(PrunableLayer layer, long survivingWeights, InputCosts? costs) =>
        survivingWeights * (costs?.FlopsPerWeightOf(layer) ?? layer.FlopsPerWeight);

    /// <summary>MACs per weight of a 2D convolution: each weight is used once per output position.</summary>
    public static double Conv2dFlopsPerWeight(long outputHeight, long outputWidth) => (double)outputHeight * outputWidth;
}
