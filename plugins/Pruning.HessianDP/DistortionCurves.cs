using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// One layer's distortion as a function of how many of its weights are removed, in the layer's removal
/// order (issue 5 §3). <see cref="Prefix"/>[n] is the value with the first n removed, at one-weight
/// resolution, so the sparsity grid and the final budget fill read the same curve. Predicted curves are
/// exact at every n; measured curves are measured at <see cref="Levels"/> and linear in between.
/// </summary>
internal sealed class LayerDistortionCurve : IDisposable
{
    public required PruningCandidate Candidate { get; init; }
    public required double[] Prefix { get; init; }

    /// <summary>Flat weight indices in removal order.</summary>
    public required Tensor Order { get; init; }

    /// <summary>The within-layer ranking scores (same shape as the weight).</summary>
    public required Tensor Scores { get; init; }

    /// <summary>Measured curves: the removed-weight counts that were measured (the DP's choices), ascending.</summary>
    public long[]? Levels { get; init; }

    /// <summary>Measured curves: the distortion measured at each of <see cref="Levels"/>, before it was made monotone.</summary>
    public double[]? Measured { get; init; }

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
    /// <summary>
    /// Measured curves (ICCV 2023 §3.1, issue 10 §1): each layer alone is pruned by magnitude to each of its
    /// <see cref="MeasuredLevels"/>, the calibration set is run, the output distortion recorded, and the layer
    /// restored. Made monotone in sparsity (a running maximum), then interpolated linearly between levels.
    /// </summary>
    public static List<LayerDistortionCurve> Measure(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates,
        int levels, IProgressReporter progress, string step)
    {
        var grids = candidates.Select(c => MeasuredLevels(c, levels)).ToArray();
        return FromMeasured(candidates, grids, MeasureValues(model, calibration, candidates, grids, progress, step));
    }

    /// <summary>
    /// The distortion of each layer alone pruned to each count of its grid (index 0: the layer as it is, 0), removing
    /// weights in ascending <paramref name="orderScores"/> (null: magnitude).
    /// </summary>
    /// <param name="refitDamping">Not null: at each level the layer's surviving weights are first refitted by least squares
    /// (<see cref="WeightReconstruction.LayerAloneRefit"/>, this damping), so the curve is the distortion left after
    /// reconstruction. A layer that cannot be refitted is measured as it is.</param>
    /// <param name="refitCellWeights">With <paramref name="refitDamping"/>: the refit's row weights per calibration batch
    /// (<see cref="CalibrationSet.ForegroundCells"/>); null weighs every row alike.</param>
    /// <param name="rest">Not null: every other layer is first pruned to its count here (in its own removal order), and each
    /// layer's curve is the distortion it adds on top of theirs: measured minus the distortion with that layer unpruned.</param>
    public static double[][] MeasureValues(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates,
        long[][] grids, IProgressReporter progress, string step, IReadOnlyList<Tensor>? orderScores = null, double? refitDamping = null,
        IReadOnlyList<long>? rest = null, IReadOnlyList<Tensor>? refitCellWeights = null)
    {
        var values = new double[candidates.Count][];
        using var task = progress.Start(rest is null ? $"{step}: measured curves (one layer pruned alone)" : $"{step}: measured curves (one layer varied, the rest at the plan)",
            grids.Sum(g => g.Length - (rest is null ? 1L : 0L)));
        using var restOfModel = rest is null ? null : new PrunedState(candidates, orderScores, rest);
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            var grid = grids[i];
            var weight = candidate.Layer.Weight;
            var measured = values[i] = new double[grid.Length];
            restOfModel?.Restore(i);
            // Every pass below changes this layer only: the stages before the one that reads it run once, here.
            using var start = calibration.StartAt(model, [candidate.Name]);
            var baseline = restOfModel is null ? 0 : start.Measure();
            if (restOfModel is not null) task.Advance(1, $"{candidate.Name} unpruned");
            using var order = RemovalOrder(candidate, orderScores?[i]);
            using var backup = weight.detach().clone();
            using var refit = refitDamping is { } damping ? WeightReconstruction.LayerAloneRefit(model, candidate.Layer, calibration.Batches, damping, refitCellWeights) : null;
            try
            {
                for (var j = 1; j < grid.Length; j++)
                {
                    using (no_grad())
                    using (var scope = NewDisposeScope())
                    {
                        // Levels ascend, so each level removes only the weights between the previous count and its own;
                        // a refit changes the survivors, so then the level starts again from the layer as it was.
                        if (refit is not null) weight.copy_(backup);
                        weight.view(-1).index_fill_(0, order.slice(0, refit is null ? grid[j - 1] : 0, grid[j], 1).to(weight.device), 0);
                        if (refit is not null) weight.copy_(refit.Apply(weight));
                    }
                    measured[j] = start.Measure() - baseline;
                    task.Advance(1, $"{candidate.Name} {(double)grid[j] / candidate.Weights:P0}");
                }
            }
            finally
            {
                using (no_grad()) weight.copy_(backup);
                restOfModel?.Prune(i);
            }
        }
        return values;
    }

    /// <summary>The distortion on the calibration set with every layer pruned to its count in <paramref name="plan"/> at once.</summary>
    public static double MeasureJoint(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates, IReadOnlyList<long> plan,
        IReadOnlyList<Tensor>? orderScores = null)
    {
        using var pruned = new PrunedState(candidates, orderScores, plan);
        return calibration.Measure(model);
    }

    /// <summary>
    /// Candidate layers pruned to given counts, each in its removal order (magnitude, or ascending scores), until disposed:
    /// then every layer gets back the weights it had. <see cref="Restore"/> and <see cref="Prune"/> toggle one layer.
    /// </summary>
    private sealed class PrunedState : IDisposable
    {
        private readonly IReadOnlyList<PruningCandidate> candidates;
        private readonly IReadOnlyList<long> counts;
        private readonly Tensor[] orders;
        private readonly Tensor[] originals;

        public PrunedState(IReadOnlyList<PruningCandidate> candidates, IReadOnlyList<Tensor>? orderScores, IReadOnlyList<long> counts)
        {
            if (counts.Count != candidates.Count) throw new ArgumentException($"{counts.Count} counts for {candidates.Count} layers.", nameof(counts));
            this.candidates = candidates;
            this.counts = counts;
            orders = candidates.Select((c, i) => RemovalOrder(c, orderScores?[i])).ToArray();
            originals = candidates.Select(c => c.Layer.Weight.detach().clone()).ToArray();
            for (var i = 0; i < candidates.Count; i++) Prune(i);
        }

        public void Prune(int i)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var weight = candidates[i].Layer.Weight;
            weight.copy_(originals[i]);
            weight.view(-1).index_fill_(0, orders[i].slice(0, 0, counts[i], 1).to(weight.device), 0);
        }

        public void Restore(int i)
        {
            using var _ = no_grad();
            candidates[i].Layer.Weight.copy_(originals[i]);
        }

        public void Dispose()
        {
            for (var i = 0; i < candidates.Count; i++) Restore(i);
            foreach (var t in orders.Concat(originals)) t.Dispose();
        }
    }

    /// <summary>Curves through measured values (running maximum, linear between levels), removal order by <paramref name="orderScores"/> (null: magnitude).</summary>
    public static List<LayerDistortionCurve> FromMeasured(IReadOnlyList<PruningCandidate> candidates, long[][] grids, double[][] measured, IReadOnlyList<Tensor>? orderScores = null) =>
        candidates.Select((c, i) =>
        {
            var (order, scores) = orderScores is null ? MagnitudeOrder(c) : (LayerPruning.RankOrder(c.Layer.Weight, orderScores[i]), orderScores[i].clone());
            return new LayerDistortionCurve
            {
                Candidate = c,
                Prefix = Interpolate(grids[i], Monotone(measured[i]), c.Weights),
                Order = order,
                Scores = scores,
                Levels = grids[i],
                Measured = measured[i],
            };
        }).ToList();

    /// <summary>The order in which the layer's weights are removed: ascending <paramref name="scores"/>, or magnitude when null.</summary>
    private static Tensor RemovalOrder(PruningCandidate candidate, Tensor? scores)
    {
        if (scores is not null) return LayerPruning.RankOrder(candidate.Layer.Weight, scores);
        var (order, magnitudes) = MagnitudeOrder(candidate);
        magnitudes.Dispose();
        return order;
    }

    private static (Tensor Order, Tensor Scores) MagnitudeOrder(PruningCandidate candidate)
    {
        using var _ = no_grad();
        var scores = candidate.Layer.Weight.detach().abs().to_type(ScalarType.Float64).cpu();
        return (LayerPruning.RankOrder(candidate.Layer.Weight, scores), scores);
    }

    /// <summary>
    /// Removed-weight counts measured for one layer: AlreadyZero + (1 − (1 − d/levels)^1.5)·(MaxPruned − AlreadyZero),
    /// d = 0..levels, distinct: steps shrink towards MaxPruned, where a layer's distortion climbs fastest.
    /// </summary>
    public static long[] MeasuredLevels(PruningCandidate c, int levels)
    {
        var counts = new SortedSet<long> { c.AlreadyZero, c.MaxPruned };
        for (var d = 1; d < levels; d++)
            counts.Add(c.AlreadyZero + (long)Math.Round((1 - Math.Pow(1 - (double)d / levels, 1.5)) * (c.MaxPruned - c.AlreadyZero)));
        return counts.ToArray();
    }

    /// <summary>Running maximum: removing more weights of a layer is never credited with less distortion.</summary>
    internal static double[] Monotone(IReadOnlyList<double> values)
    {
        var result = new double[values.Count];
        var max = double.NegativeInfinity;
        for (var i = 0; i < values.Count; i++) result[i] = max = Math.Max(max, values[i]);
        return result;
    }

    /// <summary>One-weight-resolution curve through the measured points: 0 up to the first level, linear between, flat after the last.</summary>
    private static double[] Interpolate(long[] grid, double[] values, long weights)
    {
        var prefix = new double[weights + 1];
        for (var j = 1; j < grid.Length; j++)
        {
            long a = grid[j - 1], b = grid[j];
            for (var n = a; n <= b; n++)
                prefix[n] = values[j - 1] + (values[j] - values[j - 1]) * (n - a) / (b - a);
        }
        for (var n = grid[^1] + 1; n <= weights; n++) prefix[n] = values[^1];
        for (var n = 0; n < grid[0]; n++) prefix[n] = values[0];
        return prefix;
    }

    /// <summary>Per-weight removal scores of candidate <paramref name="i"/> (float64, on the CPU): the lowest go first.</summary>
    public static Tensor Saliency(HessianEstimate estimate, int i, WithinLayerRanking ranking)
    {
        using var _ = no_grad();
        var w = estimate.Candidates[i].Layer.Weight.detach().to_type(ScalarType.Float64).cpu();
        return ranking switch
        {
            // OBD saliency: removing w_i alone changes D by w_i²·H_ii under the diagonal approximation.
            WithinLayerRanking.HessianSaliency => w.square() * estimate.Diagonal[i],
            WithinLayerRanking.Magnitude => w.abs(),
            WithinLayerRanking.WeightGradient => (w * estimate.Gradient![i]).abs(),
            _ => throw new ArgumentOutOfRangeException(nameof(ranking), ranking, "unknown Ranking"),
        };
    }

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
            var scores = Saliency(estimate, i, options.Ranking);
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
