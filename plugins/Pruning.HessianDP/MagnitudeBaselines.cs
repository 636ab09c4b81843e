using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>The data-free baselines DM3D compares with: one sparsity for all, one magnitude threshold for all, and LAMP.</summary>
internal static class MagnitudeBaselines
{
    /// <summary>Uniform magnitude: the same sparsity s in every candidate layer (capped per layer), the smallest s that fits the budget.</summary>
    public static long[] Uniform(IReadOnlyList<PruningCandidate> candidates, double budget)
    {
        long Pruned(PruningCandidate c, double s) => Math.Clamp((long)Math.Ceiling(s * c.Weights - 1e-9), c.AlreadyZero, c.MaxPruned);
        double Flops(double s) => candidates.Sum(c => c.FlopsAt(Pruned(c, s)));
        double lo = 0, hi = 1;
        if (Flops(lo) <= budget) return candidates.Select(c => Pruned(c, 0)).ToArray();
        for (var it = 0; it < 100; it++)
        {
            var mid = 0.5 * (lo + hi);
            if (Flops(mid) <= budget) hi = mid; else lo = mid;
        }
        return candidates.Select(c => Pruned(c, hi)).ToArray();
    }

    /// <summary>Scores whose global order decides removal: |w| (global magnitude).</summary>
    public static Tensor MagnitudeScores(PruningCandidate c) => c.Layer.Weight.detach().abs().to_type(ScalarType.Float64).cpu();

    /// <summary>
    /// LAMP (Lee et al., "Layer-adaptive sparsity for the magnitude-based pruning", ICLR 2021, Eq. 2):
    /// with a layer's weights sorted by ascending magnitude, score(u) = w_u² / Σ_{v ≥ u} w_v².
    /// </summary>
    public static Tensor LampScores(PruningCandidate c)
    {
        using var scope = NewDisposeScope();
        var w2 = c.Layer.Weight.detach().to_type(ScalarType.Float64).cpu().flatten().square();
        var (sorted, order) = w2.sort(0);
        var tail = sorted.flip(0).cumsum(0).flip(0); // Σ_{v ≥ u} in ascending order
        var lamp = sorted / tail.clamp_min(double.Epsilon);
        var scores = zeros_like(w2).index_put_(lamp, order);
        return scores.reshape(c.Layer.Weight.shape).DetachFromDisposeScope();
    }

    /// <summary>
    /// Global selection: remove weights in ascending score over all candidate layers (each layer only up to
    /// MaxPruned) until the FLOPs removed bring the candidates within the budget.
    /// </summary>
    public static long[] Global(IReadOnlyList<PruningCandidate> candidates, IReadOnlyList<Tensor> scores, double budget)
    {
        var current = candidates.Sum(c => c.FlopsAt(c.AlreadyZero));
        var mustRemove = current - budget;
        var pruned = candidates.Select(c => c.AlreadyZero).ToArray();
        if (mustRemove <= 0) return pruned;

        using var scope = NewDisposeScope();
        var pooledScores = new List<Tensor>();
        var pooledCost = new List<Tensor>();
        var pooledLayer = new List<Tensor>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            var order = LayerPruning.RankOrder(c.Layer.Weight, scores[i]);
            // The layer's removable prefix beyond the weights already zero.
            var removable = order.slice(0, c.AlreadyZero, c.MaxPruned, 1);
            pooledScores.Add(scores[i].flatten().to_type(ScalarType.Float64).cpu().index_select(0, removable));
            pooledCost.Add(full(removable.shape[0], c.FlopsPerWeight, ScalarType.Float64));
            pooledLayer.Add(full(removable.shape[0], i, ScalarType.Int64));
        }
        var all = cat(pooledScores);
        // Stable sort keeps each layer's own removal order among equal scores.
        var (_, globalOrder) = all.sort(0, stable: true);
        var removed = cat(pooledCost).index_select(0, globalOrder).cumsum(0);
        var needed = searchsorted(removed, tensor(mustRemove * (1 - 1e-12))).item<long>() + 1;
        needed = Math.Min(needed, removed.shape[0]);
        var counts = cat(pooledLayer).index_select(0, globalOrder.slice(0, 0, needed, 1)).bincount(null, candidates.Count);
        var extra = counts.data<long>().ToArray();
        for (var i = 0; i < candidates.Count; i++) pruned[i] += extra[i];
        return pruned;
    }
}
