using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// What the distortion's Taylor expansion needs per candidate layer, on the CPU in float64:
/// <see cref="Diagonal"/> (H_ii of the quadratic form D ≈ δwᵀHδw) and, where an option asks for it,
/// <see cref="Gradient"/> (g of the output energy, for |w·g| and the research code's estimators).
/// </summary>
internal sealed class HessianEstimate : IDisposable
{
    public required IReadOnlyList<PruningCandidate> Candidates { get; init; }
    public required Tensor[] Diagonal { get; init; }
    public Tensor[]? Gradient { get; init; }
    public int BackwardPasses { get; init; }

    public void Dispose()
    {
        foreach (var t in Diagonal) t.Dispose();
        foreach (var t in Gradient ?? []) t.Dispose();
    }

    public static HessianEstimate Estimate(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates,
        HessianDPOptions options, int seed, IProgressReporter progress, string step)
    {
        var needGradient = options.Estimator != DistortionEstimator.GaussNewtonDiagonal || options.Ranking == WithinLayerRanking.WeightGradient;
        var passes = 0;
        Tensor[]? gradient = null;
        if (needGradient)
        {
            gradient = OutputEnergyGradient(model, calibration, candidates, progress, step);
            passes += calibration.Batches.Count;
        }

        Tensor[] diagonal;
        if (options.Estimator == DistortionEstimator.GaussNewtonDiagonal)
        {
            diagonal = GaussNewtonDiagonal(model, calibration, candidates, options.Projections, seed, progress, step);
            passes += calibration.Batches.Count * options.Projections;
        }
        else
        {
            // diag(ggᵀ) = g², plus λ for the damped rank-one Fisher.
            var damping = options.Estimator == DistortionEstimator.RankOneFisher ? options.FisherDamping : 0;
            diagonal = gradient!.Select(g => g.square().add(damping)).ToArray();
        }

        var broken = new List<string>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var bad = diagonal[i].isfinite().logical_not().sum().item<long>() + (gradient is null ? 0 : gradient[i].isfinite().logical_not().sum().item<long>());
            if (bad > 0) broken.Add($"'{candidates[i].Name}' ({bad} entries)");
        }
        if (broken.Count > 0)
            throw new InvalidOperationException(
                $"Step '{step}': the Hessian estimate ({options.Estimator}) has NaN or Inf entries in layer {string.Join(", ", broken)}; " +
                "the model's outputs or weights are not finite on the calibration samples (check the checkpoint and CalibrationSplit).");
        return new HessianEstimate { Candidates = candidates, Diagonal = diagonal, Gradient = gradient, BackwardPasses = passes };
    }

    /// <summary>
    /// diag(JᵀCJ) with C = weight/numel per output (so that D ≈ δwᵀ(JᵀCJ)δw, the Gauss-Newton form of the
    /// second-order term: the first-order term vanishes at the dense weights, issue 5 §2). For a Rademacher
    /// vector v over the outputs, E[(Jᵀ C^½ v)²] = diag(JᵀCJ), since E[v vᵀ] = I; each projection costs one backward pass.
    /// </summary>
    public static Tensor[] GaussNewtonDiagonal(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates,
        int projections, int seed, IProgressReporter progress, string step)
    {
        model.Module.eval();
        var sums = candidates.Select(c => zeros(c.Layer.Weight.shape, ScalarType.Float64)).ToArray();
        var generator = new Generator((ulong)Seeding.Random(seed, "hessian-dp-projections").NextInt64(1, long.MaxValue));
        using var task = progress.Start($"{step}: Gauss-Newton diagonal", (long)calibration.Batches.Count * projections);
        for (var b = 0; b < calibration.Batches.Count; b++)
        {
            // A native fault that training guards against (finite loss, NaN upstream; see Trainer.StepAttempts and
            // TorchRuntime) would reach this backward too: a batch whose gradients come out non-finite is computed
            // again with the same projections, up to Trainer.StepAttempts times; then the estimate's own check reports it.
            var state = generator.get_state();
            for (var attempt = 1; ; attempt++)
            {
                generator.set_state(state);
                var batchSums = candidates.Select(c => zeros(c.Layer.Weight.shape, ScalarType.Float64)).ToArray();
                var finite = true;
                using (var scope = NewDisposeScope())
                using (NoGcRegion.Enter())   // TorchSharp's temporary scalars and the collector (Kit/NoGcRegion)
                {
                    // One forward per batch; every projection back-propagates through the same graph (retained until the last).
                    var output = model.Forward(calibration.Batches[b]);
                    var compared = model.DistortionOutputs
                        .Where(spec => calibration.Weights.For(spec.Group) != 0)
                        .Select(spec => (F: OutputDistortion.Comparable(output, spec), Weight: calibration.Weights.For(spec.Group)))
                        .ToList();
                    for (var p = 0; p < projections; p++)
                    {
                        using var inner = NewDisposeScope();
                        model.Module.zero_grad();
                        Tensor? objective = null;
                        foreach (var (f, weight) in compared)
                        {
                            var v = randint(0, 2, f.shape, ScalarType.Float32, generator: generator).mul_(2).sub_(1).to(f.dtype).to(f.device);
                            var term = (f * v).sum() * Math.Sqrt(weight / f.numel());
                            objective = objective is null ? term : objective + term;
                        }
                        objective!.backward(retain_graph: p < projections - 1);
                        finite &= Accumulate(candidates, batchSums, square: true);
                        task.Advance();
                    }
                }
                if (finite || attempt == Trainer.StepAttempts)
                {
                    for (var i = 0; i < sums.Length; i++) sums[i].add_(batchSums[i]);
                    foreach (var t in batchSums) t.Dispose();
                    break;
                }
                foreach (var t in batchSums) t.Dispose();
            }
        }
        model.Module.zero_grad();
        var count = (double)calibration.Batches.Count * projections;
        foreach (var s in sums) s.div_(count);
        return sums;
    }

    /// <summary>g: the gradient of the output energy Σ weight·mean(f²), averaged over calibration batches (DM3D research code).</summary>
    public static Tensor[] OutputEnergyGradient(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates,
        IProgressReporter progress, string step)
    {
        model.Module.eval();
        var sums = candidates.Select(c => zeros(c.Layer.Weight.shape, ScalarType.Float64)).ToArray();
        using var task = progress.Start($"{step}: output-energy gradient", calibration.Batches.Count);
        foreach (var batch in calibration.Batches)
        {
            using var scope = NewDisposeScope();
            using var quiet = NoGcRegion.Enter();   // TorchSharp's temporary scalars and the collector (Kit/NoGcRegion)
            model.Module.zero_grad();
            var output = model.Forward(batch);
            Tensor? energy = null;
            foreach (var spec in model.DistortionOutputs)
            {
                var weight = calibration.Weights.For(spec.Group);
                if (weight == 0) continue;
                var term = OutputDistortion.Comparable(output, spec).square().mean() * weight;
                energy = energy is null ? term : energy + term;
            }
            energy!.backward();
            Accumulate(candidates, sums, square: false);
            task.Advance();
        }
        model.Module.zero_grad();
        foreach (var s in sums) s.div_((double)calibration.Batches.Count);
        return sums;
    }

    /// <summary>Adds each layer's gradient (or its square) to its sum; false when some gradient is not finite.</summary>
    private static bool Accumulate(IReadOnlyList<PruningCandidate> candidates, Tensor[] sums, bool square)
    {
        using var _ = no_grad();
        var finite = true;
        for (var i = 0; i < candidates.Count; i++)
        {
            var grad = candidates[i].Layer.Weight.grad;
            if (grad is null) continue; // the layer does not reach the compared outputs: its H is zero
            using var g = grad.detach().to_type(ScalarType.Float64).cpu();
            finite &= g.isfinite().all().item<bool>();
            sums[i].add_(square ? g.square() : g);
        }
        return finite;
    }
}
