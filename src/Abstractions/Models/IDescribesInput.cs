namespace Platform.Abstractions.Models;

/// <summary>
/// Optional for models whose cost depends on the input as well as the weights (a pillar encoder runs
/// once per non-empty pillar): figures about one collated batch, per sample, for latency and FLOPs
/// reports, e.g. "nonEmptyPillars".
/// </summary>
public interface IDescribesInput
{
    IReadOnlyDictionary<string, double> DescribeInput(ModelBatch batch);
}
