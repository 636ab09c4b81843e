namespace Platform.Abstractions.Models;

/// <summary>
/// Optional for models whose cost depends on the input as well as the weights (a pillar encoder runs
/// once per non-empty pillar): figures about one collated batch, per sample, for latency and FLOPs
/// reports, e.g. "nonEmptyPillars".
/// </summary>
public interface IDescribesInput
{
    IReadOnlyDictionary<string, double> DescribeInput(ModelBatch batch);

    /// <summary>
    /// What one sample costs at an input with these figures (DescribeInput's keys, averaged over samples);
    /// null where the cost does not depend on the input. <see cref="Kit.ModelStats"/> counts with it.
    /// </summary>
    InputCosts? CostsAt(IReadOnlyDictionary<string, double> input) => null;
}

/// <summary>
/// The cost of one sample at a measured input, in place of the configured capacity: FLOPs per weight of the
/// prunable layers whose use depends on the input (by layer name; the others keep <see cref="PrunableLayer.FlopsPerWeight"/>),
/// and the other FLOPs per sample.
/// </summary>
public sealed record InputCosts(IReadOnlyDictionary<string, double> FlopsPerWeight, double OtherFlopsPerSample)
{
    public double FlopsPerWeightOf(PrunableLayer layer) => FlopsPerWeight.TryGetValue(layer.Name, out var f) ? f : layer.FlopsPerWeight;
}
