using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// DM3D (Xu et al., arXiv 2407.02098): post-training layer-wise pruning that minimises the output
/// distortion for a FLOPs budget. Calibration: a second-order estimate of the distortion (Gauss-Newton
/// diagonal by default); curves: predicted distortion of each layer along a sparsity grid; allocation:
/// an exact DP over the discretised budget; masks: each layer's lowest-saliency weights. Curves=Measured (the
/// default) replaces the estimate by single-layer measurements (ICCV 2023 §3.1; issue 10 §1).
/// </summary>
public sealed class HessianDPCompressor(HessianDPOptions options) : PruningCompressor<HessianDPOptions>(options)
{
    protected override string Method => "hessian-dp";
    protected override bool NeedsCalibration => true;

    private protected override Decision Decide(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet? calibration, StepOutcome outcome)
    {
        if (Options.PlanRounds > 1 && Options.Curves != CurveSource.Measured)
            throw new ArgumentException($"Step '{Method}': option PlanRounds={Options.PlanRounds} needs Curves=Measured (each round measures curves around the plan).");
        var watch = Stopwatch.StartNew();
        List<LayerDistortionCurve> curves;
        if (Options.Curves == CurveSource.Measured)
        {
            curves = MeasuredCurves(context, model, budget, calibration!, outcome);
            outcome.Metrics["curveSeconds"] = watch.Elapsed.TotalSeconds;
        }
        else
        {
            // The second-order estimate differentiates the Raw comparison only.
            if (Options.Distortion != Platform.Abstractions.Kit.DistortionKind.Raw)
                throw new ArgumentException($"Step '{Method}': option Distortion={Options.Distortion} needs Curves=Measured; Curves=Predicted estimates the Raw distortion only.");
            using var estimate = HessianEstimate.Estimate(model, calibration!, budget.Candidates, Options, context.Seed, context.Services.Progress, Method);
            outcome.Metrics["calibrationSeconds"] = watch.Elapsed.TotalSeconds;
            outcome.Metrics["backwardPasses"] = estimate.BackwardPasses;
            watch.Restart();
            curves = DistortionCurves.Build(estimate, Options);
            outcome.Metrics["curveSeconds"] = watch.Elapsed.TotalSeconds;
        }
        try
        {
            watch.Restart();
            var pruned = Allocate(curves, budget.CandidateBudget, Options);
            outcome.Metrics["dpSeconds"] = watch.Elapsed.TotalSeconds;
            if (Options.PlanRounds > 1)
            {
                watch.Restart();
                pruned = RefinePlan(context, model, budget, calibration!, curves, pruned, outcome);
                outcome.Metrics["roundSeconds"] = watch.Elapsed.TotalSeconds;
            }

            if (Options.Curves == CurveSource.Predicted && Options.HonestyLayers > 0)
            {
                watch.Restart();
                HonestyCheck(model, curves, calibration!, context.Services.Progress, outcome);
                outcome.Metrics["honestySeconds"] = watch.Elapsed.TotalSeconds;
            }
            outcome.Notes.Add(Options.Curves == CurveSource.Measured
                ? $"hessian-dp: Curves=Measured (each layer pruned alone{(Options.CurveReconstruction ? " and refitted" : "")}, {(Options.MeasuredOrder == MeasuredOrder.Magnitude ? "smallest |w| first" : $"lowest {Options.Ranking} first ({Options.Estimator})")}, at up to {Options.CurveLevels} sparsities, {calibration!.Samples} calibration samples, Distortion={Options.Distortion}), Solver={Options.Solver}, {Options.BudgetSteps} budget steps."
                : $"hessian-dp: Curves=Predicted, Estimator={Options.Estimator}, Ranking={Options.Ranking}, Solver={Options.Solver}, " +
                  $"{calibration!.Samples} calibration samples, {Options.Projections} projections per batch, {Options.SparsityLevels} sparsity levels, {Options.BudgetSteps} budget steps.");
            var scores = curves.Select(c => c.Scores.clone()).ToArray();
            // Measured curves add single-layer measurements: their sum is the additivity prediction, not a second-order estimate.
            var name = Options.Curves == CurveSource.Measured ? "distortionSingleLayerSum" : "distortionPredicted";
            return new Decision(pruned, scores, curves.Select((c, i) => c.At(pruned[i])).ToArray(), name);
        }
        finally
        {
            foreach (var c in curves) c.Dispose();
        }
    }

    /// <summary>
    /// Rounds 2..PlanRounds: curves measured with the other layers at the previous plan, allocated again; every plan's joint
    /// distortion is measured, and the lowest wins (round 1's plan when no later one beats it).
    /// </summary>
    private long[] RefinePlan(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet calibration,
        IReadOnlyList<LayerDistortionCurve> curves, long[] first, StepOutcome outcome)
    {
        var candidates = budget.Candidates;
        var grids = curves.Select(c => c.Levels!).ToArray();
        IReadOnlyList<Tensor>? scores = Options.MeasuredOrder == MeasuredOrder.Ranking ? curves.Select(c => c.Scores).ToArray() : null;
        var roundsCached = 0;
        var (best, bestDistortion, bestRound) = (first, DistortionCurves.MeasureJoint(model, calibration, candidates, first, scores), 1);
        var rows = new List<IReadOnlyList<string>> { Row(1, first, bestDistortion) };
        outcome.Metrics["roundDistortion/1"] = bestDistortion;
        var plan = first;
        for (var round = 2; round <= Options.PlanRounds; round++)
        {
            var values = CachedOrMeasured(context, model, candidates, calibration, grids, scores, $"{Method} round {round}", outcome, out var cached, rest: plan);
            if (cached) roundsCached++;
            var around = DistortionCurves.FromMeasured(candidates, grids, values, scores);
            try
            {
                plan = Allocate(around, budget.CandidateBudget, Options);
            }
            finally
            {
                foreach (var c in around) c.Dispose();
            }
            var distortion = DistortionCurves.MeasureJoint(model, calibration, candidates, plan, scores);
            outcome.Metrics[$"roundDistortion/{round}"] = distortion;
            rows.Add(Row(round, plan, distortion));
            if (distortion < bestDistortion) (best, bestDistortion, bestRound) = (plan, distortion, round);
        }
        outcome.Metrics["bestRound"] = bestRound;
        if (!string.IsNullOrWhiteSpace(Options.CurveCache)) outcome.Metrics["roundCurvesCached"] = roundsCached;
        outcome.Tables.Add(new ReportTable($"{Method}: allocation rounds (joint distortion measured on the calibration set, no batch-norm re-estimation; the lowest is kept)",
            ["round", "joint distortion", "most pruned layer"], rows));
        outcome.Notes.Add($"{Method}: {Options.PlanRounds} allocation rounds; round {bestRound}'s plan kept (joint distortion {bestDistortion.ToString("G4", CultureInfo.InvariantCulture)}).");
        return best;

        IReadOnlyList<string> Row(int round, long[] counts, double distortion)
        {
            var most = Enumerable.Range(0, counts.Length).MaxBy(i => (double)counts[i] / candidates[i].Weights);
            return [round.ToString(CultureInfo.InvariantCulture), distortion.ToString("G4", CultureInfo.InvariantCulture),
                $"{candidates[most].Name} {(double)counts[most] / candidates[most].Weights:P0}"];
        }
    }

    /// <summary>Measured curves, read from CurveCache when a file there matches, else measured (and written there).</summary>
    private List<LayerDistortionCurve> MeasuredCurves(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet calibration, StepOutcome outcome)
    {
        var candidates = budget.Candidates;
        Tensor[]? scores = null;
        if (Options.MeasuredOrder == MeasuredOrder.Ranking)
        {
            var watch = Stopwatch.StartNew();
            using var estimate = HessianEstimate.Estimate(model, calibration, candidates, Options, context.Seed, context.Services.Progress, Method);
            scores = candidates.Select((_, i) => DistortionCurves.Saliency(estimate, i, Options.Ranking).DetachFromDisposeScope()).ToArray();
            outcome.Metrics["calibrationSeconds"] = watch.Elapsed.TotalSeconds;
            outcome.Metrics["backwardPasses"] = estimate.BackwardPasses;
        }
        try
        {
            return MeasuredCurves(context, model, candidates, calibration, scores, outcome);
        }
        finally
        {
            foreach (var t in scores ?? []) t.Dispose();
        }
    }

    private List<LayerDistortionCurve> MeasuredCurves(PipelineContext context, IModel model, IReadOnlyList<PruningCandidate> candidates, CalibrationSet calibration,
        Tensor[]? scores, StepOutcome outcome)
    {
        var grids = candidates.Select(c => DistortionCurves.MeasuredLevels(c, Options.CurveLevels)).ToArray();
        var measured = CachedOrMeasured(context, model, candidates, calibration, grids, scores, Method, outcome, out var cached);
        outcome.Metrics["curvePasses"] = cached ? 0 : grids.Sum(g => g.Length - 1);
        if (!string.IsNullOrWhiteSpace(Options.CurveCache)) outcome.Metrics["curvesCached"] = cached ? 1 : 0;
        return DistortionCurves.FromMeasured(candidates, grids, measured, scores);
    }

    /// <summary>
    /// Measured curve values, read from CurveCache when a file there matches, else measured (and written there). Curves
    /// around a plan (<paramref name="rest"/>, the allocation rounds) are cached under a key that includes the plan, so a
    /// pipeline run again (another fine-tuning seed, say) repeats no round.
    /// </summary>
    private double[][] CachedOrMeasured(PipelineContext context, IModel model, IReadOnlyList<PruningCandidate> candidates, CalibrationSet calibration,
        long[][] grids, IReadOnlyList<Tensor>? scores, string step, StepOutcome outcome, out bool cached, IReadOnlyList<long>? rest = null)
    {
        cached = false;
        var refit = Options.CurveReconstruction ? Options.ReconstructionDamping : (double?)null;
        // The curves' refit weighs rows as the final one does; the maps are the calibration set's, disposed with it.
        var refitCells = refit is null ? null : calibration.ForegroundCells(model, Options.ReconstructionForegroundWeight, outcome, step);
        string? path = null, key = null;
        if (!string.IsNullOrWhiteSpace(Options.CurveCache))
        {
            // The variant strings of curves cached before rounds existed stay as they were, so those files still match.
            string?[] variants = [refit is { } d ? $"refit {d:R}" : null, rest is null ? null : $"around {string.Join(",", rest)}",
                refitCells is null ? null : $"refit rows weighted {Options.ReconstructionForegroundWeight:R} above {Options.ForegroundThreshold:R}"];
            var variant = variants.All(v => v is null) ? null : string.Join("; ", variants.Where(v => v is not null));
            key = CurveCache.Key(model, calibration, candidates, grids, scores, variant);
            path = CurveCache.PathOf(Options.CurveCache, key);
            var values = CurveCache.TryRead(path, key, candidates, grids, out var problem, signed: rest is not null);
            if (values is not null)
            {
                cached = true;
                outcome.Notes.Add($"{step}: measured curves read from the cache {path}.");
                return values;
            }
            if (problem is not null)
            {
                context.Logger.LogWarning("{Method}: curve cache {Path} ignored: it {Problem}; measuring again", step, path, problem);
                outcome.Notes.Add($"{step}: curve cache {path} ignored: it {problem}.");
            }
        }
        var measured = DistortionCurves.MeasureValues(model, calibration, candidates, grids, context.Services.Progress, step, scores, refit, rest, refitCells);
        if (path is not null)
        {
            CurveCache.Write(path, key!, candidates, grids, measured);
            outcome.Notes.Add($"{step}: measured curves written to the cache {path}.");
        }
        return measured;
    }

    /// <summary>Grid levels → DP (or Lagrangian) → fill the budget's remainder at one-weight resolution.</summary>
    internal static long[] Allocate(IReadOnlyList<LayerDistortionCurve> curves, double budget, HessianDPOptions options)
    {
        var (grids, levels) = LevelsOf(curves, options);
        var chosen = options.Solver == AllocationSolver.DynamicProgramming
            ? SparsityAllocation.DynamicProgramming(levels, budget, options.BudgetSteps)
            : SparsityAllocation.Lagrangian(levels, budget);
        var pruned = chosen.Select((d, i) => grids[i][d]).ToArray();
        return SparsityAllocation.FillBudget(curves, pruned, budget);
    }

    /// <summary>Each layer's choices: the measured levels of a measured curve, else the SparsityLevels grid.</summary>
    internal static (long[][] Grids, List<LayerLevels> Levels) LevelsOf(IReadOnlyList<LayerDistortionCurve> curves, HessianDPOptions options)
    {
        var grids = curves.Select(c => c.Levels ?? c.GridCounts(options.SparsityLevels)).ToArray();
        var levels = curves.Select((c, i) => new LayerLevels(
            grids[i].Select(n => c.Candidate.FlopsAt(n)).ToArray(),
            grids[i].Select(c.At).ToArray())).ToList();
        return (grids, levels);
    }

    /// <summary>
    /// Issue 5 §3: prune a few layers alone at a few sparsities, measure the real distortion on the
    /// calibration set, and report the Spearman rank correlation with the prediction.
    /// </summary>
    private void HonestyCheck(IModel model, IReadOnlyList<LayerDistortionCurve> curves, CalibrationSet calibration,
        Platform.Abstractions.Kit.IProgressReporter progress, StepOutcome outcome)
    {
        var layerCount = Math.Min(Options.HonestyLayers, curves.Count);
        var picked = Enumerable.Range(0, layerCount)
            .Select(j => layerCount == 1 ? 0 : (int)Math.Round((double)j * (curves.Count - 1) / (layerCount - 1))).Distinct().ToArray();
        var predicted = new List<double>();
        var measured = new List<double>();
        var rows = new List<IReadOnlyList<string>>();
        using var task = progress.Start("hessian-dp: honesty check", picked.Length * Options.HonestyLevels);
        foreach (var i in picked)
        {
            var c = curves[i];
            var weight = c.Candidate.Layer.Weight;
            for (var j = 1; j <= Options.HonestyLevels; j++)
            {
                var n = c.Candidate.AlreadyZero + (long)Math.Round((double)j / Options.HonestyLevels * (c.Candidate.MaxPruned - c.Candidate.AlreadyZero));
                double real;
                using (var backup = weight.detach().clone())
                {
                    using (no_grad())
                    using (var scope = NewDisposeScope())
                        weight.view(-1).index_fill_(0, c.Order.slice(0, 0, n, 1).to(weight.device), 0);
                    try
                    {
                        real = calibration.Measure(model);
                    }
                    finally
                    {
                        using (no_grad()) weight.copy_(backup);
                    }
                }
                predicted.Add(c.At(n));
                measured.Add(real);
                rows.Add([c.Candidate.Name, ((double)n / c.Candidate.Weights).ToString("F3", CultureInfo.InvariantCulture),
                    c.At(n).ToString("G4", CultureInfo.InvariantCulture), real.ToString("G4", CultureInfo.InvariantCulture)]);
                task.Advance();
            }
        }
        outcome.Tables.Add(new ReportTable("hessian-dp honesty check: one layer pruned alone", ["layer", "sparsity", "predicted distortion", "measured distortion"], rows));
        outcome.Series["hessian-dp predicted vs measured distortion"] = new Series("predicted distortion", "measured distortion", predicted, measured);
        if (predicted.Count >= 3) outcome.Metrics["honestyRankCorrelation"] = RankCorrelation.Spearman(predicted, measured);
    }
}
