using System.Text.RegularExpressions;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>A layer a compressor may prune, with the limits the options put on it.</summary>
/// <param name="AlreadyZero">Weights that are zero before this step (earlier masks): they are ranked first and always stay removed.</param>
/// <param name="MaxPruned">The most weights this layer may lose (MaxSparsity, but never fewer than <paramref name="AlreadyZero"/>).</param>
internal sealed record PruningCandidate(PrunableLayer Layer, long Weights, long AlreadyZero, long MaxPruned)
{
    public string Name => Layer.Name;

    /// <summary>The budget's cost of one weight: at the calibration input where the model reports one, else at capacity.</summary>
    public InputCosts? Costs { get; init; }

    public double FlopsPerWeight => Costs?.FlopsPerWeightOf(Layer) ?? Layer.FlopsPerWeight;
    public double FlopsAt(long pruned) => ModelStats.LayerFlops(Layer, Weights - Math.Max(pruned, AlreadyZero), Costs);
}

/// <summary>
/// The FLOPs budget of one pruning step, resolved against the model: how many FLOPs the prunable
/// candidate layers may keep so that the model meets FlopsReduction or RemainingFlops in its scope.
/// </summary>
internal sealed class FlopsBudget
{
    public required IReadOnlyList<PruningCandidate> Candidates { get; init; }
    public required ModelStats Before { get; init; }

    /// <summary>Dense FLOPs in the budget's scope (the reduction's numerator).</summary>
    public required double ScopeDenseFlops { get; init; }

    /// <summary>FLOPs the model may keep in the budget's scope.</summary>
    public required double TargetFlops { get; init; }

    /// <summary>FLOPs the candidate layers may keep: the target less what no pruning here can remove.</summary>
    public required double CandidateBudget { get; init; }

    public required BudgetScope Scope { get; init; }

    /// <summary>The input the FLOPs are counted at (null: the model's capacity).</summary>
    public InputCosts? Costs { get; init; }

    /// <summary>FLOPs per sample outside the prunable layers, at the same input.</summary>
    public required double OtherFlopsAtInput { get; init; }

    public static FlopsBudget Resolve(IModel model, PruningOptions options, string step, InputCosts? costs = null)
    {
        var layers = model.PrunableLayers;
        if (layers.Count == 0)
            throw new InvalidOperationException($"Step '{step}': the model '{model.Spec.Use}' has no prunable layers (IModel.PrunableLayers is empty), so there is nothing to prune.");
        OptionsValidation.Check(options, $"Step '{step}'");

        var keepDense = KeepDensePattern(options.KeepDense);
        var before = ModelStats.Measure(model, costs);
        var otherFlops = costs?.OtherFlopsPerSample ?? model.OtherFlopsPerSample;
        var candidates = new List<PruningCandidate>();
        double fixedPrunableFlops = 0, densePrunableFlops = 0;
        using (no_grad())
        {
            foreach (var layer in layers)
            {
                var weights = layer.WeightCount;
                var nonzero = layer.Weight.count_nonzero().item<long>();
                densePrunableFlops += ModelStats.LayerFlops(layer, weights, costs);
                if (keepDense is not null && keepDense.IsMatch(layer.Name))
                {
                    fixedPrunableFlops += ModelStats.LayerFlops(layer, nonzero, costs);
                    continue;
                }
                var zero = weights - nonzero;
                var maxPruned = Math.Max(zero, (long)Math.Floor(options.MaxSparsity * weights + 1e-9));
                candidates.Add(new PruningCandidate(layer, weights, zero, maxPruned) { Costs = costs });
            }
        }
        if (candidates.Count == 0)
            throw new ArgumentException($"Step '{step}': option KeepDense='{options.KeepDense}' matches every prunable layer, so there is nothing to prune.");

        var scope = options.BudgetScope;
        var scopeDense = scope == BudgetScope.WholeModel ? before.DenseFlops : densePrunableFlops;
        var fixedFlops = fixedPrunableFlops + (scope == BudgetScope.WholeModel ? otherFlops : 0);
        var (optionName, target) = options.RemainingFlops > 0
            ? ("RemainingFlops", options.RemainingFlops)
            : ("FlopsReduction", scopeDense / options.FlopsReduction);
        var candidateBudget = target - fixedFlops;
        var leastReachable = candidates.Sum(c => c.FlopsAt(c.MaxPruned));
        if (candidateBudget < leastReachable * (1 - 1e-9))
        {
            var bestRatio = scopeDense / (leastReachable + fixedFlops);
            throw new ArgumentException(
                $"Step '{step}': option {optionName} asks for {target:G4} FLOPs ({scopeDense / target:F2}x fewer than the dense {scopeDense:G4}, BudgetScope={scope}), " +
                $"but the most this model can lose with MaxSparsity={options.MaxSparsity} and KeepDense='{options.KeepDense}' leaves {leastReachable + fixedFlops:G4} " +
                $"({bestRatio:F2}x; {fixedFlops:G4} of it cannot be pruned). Lower {optionName}'s reduction, raise MaxSparsity or shorten KeepDense.");
        }

        return new FlopsBudget
        {
            Candidates = candidates,
            Before = before,
            ScopeDenseFlops = scopeDense,
            TargetFlops = target,
            CandidateBudget = candidateBudget,
            Scope = scope,
            Costs = costs,
            OtherFlopsAtInput = otherFlops,
        };
    }

    /// <summary>'a.*,b' → ^(a\..*|b)$; null when empty.</summary>
    internal static Regex? KeepDensePattern(string patterns)
    {
        var parts = patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) return null;
        var alternatives = parts.Select(p => Regex.Escape(p).Replace(@"\*", ".*"));
        return new Regex("^(" + string.Join("|", alternatives) + ")$", RegexOptions.CultureInvariant);
    }
}
