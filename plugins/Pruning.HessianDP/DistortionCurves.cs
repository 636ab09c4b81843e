using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// One layer's predicted distortion as a function of how many of its weights are removed, in the
/// layer's removal order (issue 5 §3). <see cref="Prefix"/>[n] is the prediction with the first n removed,
/// at one-weight resolution, so the sparsity grid and the final budget fill read the same curve.
/// </summary>
internal sealed class LayerDistortionCurve : IDisposable
{
    public required PruningCandidate Candidate { get; init; }
    public required double[] Prefix { get; init; }

    /// <summary>Flat weight indices in removal order.</summary>
    public required Tensor Order { get; init; }

    /// <summary>The within-layer ranking scores (same shape as the weight).</summary>
    public required Tensor Scores { get; init; }

    public double At(long pruned) => Prefix[Math.Clamp(pruned, 0, Prefix.Length - 1)];

    /// <summary>The sparsity grid d/levels, d = 0..levels, as removed-weight counts clamped to [AlreadyZero, MaxPruned], distinct.</summary>
    public long[] GridCounts(int levels)
    {
        var c = Candidate;
        var counts = new SortedSet<long> { c.AlreadyZero, c.MaxPruned };
        for (var d = 0; d <= levels; d++)
            counts.Add(Math.Clamp((long)Math.Round((double)d / levels * c.Weights), c.AlreadyZero, c.MaxPruned));
        return counts.ToArray();
    }

    public void Dispose()
    {
        Order.Dispose();
        Scores.Dispose();
    }
}

internal static class DistortionCurves
{
    /// <summary>Builds every candidate layer's curve from the Hessian estimate; the ranking decides the removal order.</summary>
    public static List<LayerDistortionCurve> Build(HessianEstimate estimate, HessianDPOptions options)
    {
        var curves = new List<LayerDistortionCurve>(estimate.Candidates.Count);
        using var _ = no_grad();
        for (var i = 0; i < estimate.Candidates.Count; i++)
        {
            var candidate = estimate.Candidates[i];
            using var scope = NewDisposeScope();
            var w = candidate.Layer.Weight.detach().to_type(ScalarType.Float64).cpu();
            var h = estimate.Diagonal[i];
            var g = estimate.Gradient?[i];
            var scores = options.Ranking switch
            {
                // OBD saliency: removing w_i alone changes D by w_i²·H_ii under the diagonal approximation.
                WithinLayerRanking.HessianSaliency => w.square() * h,
                WithinLayerRanking.Magnitude => w.abs(),
                WithinLayerRanking.WeightGradient => (w * g!).abs(),
                _ => throw new ArgumentOutOfRangeException(nameof(options), options.Ranking, "unknown Ranking"),
            };
            var order = LayerPruning.RankOrder(candidate.Layer.Weight, scores);
            var wSorted = w.flatten().index_select(0, order);
            Tensor prefix;
            if (options.Estimator == DistortionEstimator.RankOneFisher)
            {
                // ½ δwᵀ(ggᵀ + λI)δw with δw = −w on the removed set: ½[(Σ w_i g_i)² + λ Σ w_i²], cumulative along the order.
                var gSorted = g!.flatten().index_select(0, order);
                var dot = (wSorted * gSorted).cumsum(0);
                var norm = wSorted.square().cumsum(0);
                prefix = (dot.square() + norm * options.FisherDamping) * 0.5;
                // The rank-one form is not monotone in the removed set; the research code makes curves monotone.
                prefix = prefix.cummax(0).values;
            }
            else
            {
                // Diagonal quadratic form: D(n) = Σ_{i<n} w_i² H_ii (first-order squared: H_ii = g_i²).
                prefix = (wSorted.square() * h.flatten().index_select(0, order)).cumsum(0);
            }
            var values = new double[candidate.Weights + 1];
            prefix.contiguous().data<double>().CopyTo(values, 1);
            curves.Add(new LayerDistortionCurve
            {
                Candidate = candidate,
                Prefix = values,
                Order = order.DetachFromDisposeScope(),
                Scores = scores.DetachFromDisposeScope(),
            });
        }
        return curves;
    }
}
