using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// The shared half of every compressor in this plugin: resolve the FLOPs budget, optionally load the
/// calibration set, let the method choose per-layer removal counts and scores, apply the masks, and
/// report the same metrics for every method so a pipeline can swap them by name.
/// </summary>
public abstract class PruningCompressor<TOptions>(TOptions options) : ICompressor where TOptions : PruningOptions
{
    protected TOptions Options { get; } = options;

    /// <summary>The registered component name, used in messages and file names.</summary>
    protected abstract string Method { get; }

    protected virtual bool NeedsCalibration => false;

    /// <summary>What a method decides: per candidate, how many weights go and the scores ranking them.</summary>
    /// <param name="PredictionMetric">The metric the summed per-layer distortions are reported as.</param>
    private protected sealed record Decision(long[] Pruned, Tensor[] Scores, double[] PredictedDistortion, string PredictionMetric = "distortionPredicted");

    private protected abstract Decision Decide(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet? calibration, StepOutcome outcome);

    public StepOutcome Run(PipelineContext context)
    {
        var total = Stopwatch.StartNew();
        var model = context.RequireModel(Method);
        // At capacity first: bad options are refused before any sample is read.
        var budget = FlopsBudget.Resolve(model, Options, Method);
        var outcome = new StepOutcome();

        var watch = Stopwatch.StartNew();
        using var calibration = NeedsCalibration || Options.CalibrationSamples > 0 ? CalibrationSet.Load(context, model, Options, Method) : null;
        outcome.Metrics["calibrationLoadSeconds"] = watch.Elapsed.TotalSeconds;
        var costs = Options.Costs == CostBasis.CalibrationInput ? calibration?.CostsOf(model) : null;
        if (costs is not null) budget = FlopsBudget.Resolve(model, Options, Method, costs);

        if (Options.Reconstruct && calibration is null)
            throw new ArgumentException($"Step '{Method}': option Reconstruct=true needs calibration samples; CalibrationSamples is 0.");
        // Reconstruction's targets: the layers as they are before this step's masks.
        var dense = Options.Reconstruct ? model.PrunableLayers.ToDictionary(l => l.Name, l => l.Weight.detach().clone()) : null;

        var decision = Decide(context, model, budget, calibration, outcome);
        try
        {
            for (var i = 0; i < budget.Candidates.Count; i++)
                LayerPruning.PruneLowest(model, budget.Candidates[i], decision.Scores[i], decision.Pruned[i]);
        }
        finally
        {
            foreach (var s in decision.Scores) s.Dispose();
        }

        if (dense is not null)
        {
            watch.Restart();
            if (calibration is not null) outcome.Metrics["distortionMeasuredBeforeReconstruction"] = calibration.Measure(model);
            var result = WeightReconstruction.Run(model, budget.Candidates.Select(c => c.Layer).ToList(), dense, calibration!.Batches,
                Options.ReconstructionDamping, Options.ReconstructionSelection, context.Services.Progress, Method,
                calibration.ForegroundCells(model, Options.ReconstructionForegroundWeight, outcome, Method));
            foreach (var t in dense.Values) t.Dispose();
            result.Report(outcome, Method, watch.Elapsed.TotalSeconds);
        }

        if (Options.RecalibrateBatchNorm && calibration is not null)
        {
            // The per-layer curves are taken without re-estimation: this is the joint distortion that their sum predicts (issue 10 §4).
            outcome.Metrics["distortionMeasuredBeforeBatchnorm"] = calibration.Measure(model);
            // Reconstruction refits each layer to the dense layer's outputs, which the running statistics already describe;
            // re-estimating them afterwards undoes the fit (measured on the calibration frames: CenterPoint, lamp 2x,
            // distortion 0.044 after reconstruction, 0.47 after re-estimation on top of it).
            if (dense is null)
                outcome.Metrics["batchnormRecalibratedLayers"] = BatchNormRecalibration.Run(model, calibration.Batches);
            else
                outcome.Notes.Add($"{Method}: batch-norm statistics kept: reconstruction restored the dense layer outputs they describe.");
        }

        var plan = new LayerSparsityPlan(Method, budget.Candidates.Select((c, i) =>
            new LayerSparsityChoice(c.Name, c.Layer.Kind, c.Weights, Math.Max(decision.Pruned[i], c.AlreadyZero), c.FlopsPerWeight, decision.PredictedDistortion[i])).ToList());
        Report(context, model, budget, plan, calibration, outcome, decision.PredictionMetric);
        outcome.Metrics["pruningSeconds"] = total.Elapsed.TotalSeconds;
        context.Logger.LogInformation("{Method}: FLOPs {Before:G4} -> {After:G4} ({Reduction:F2}x whole model) in {Seconds:F1} s",
            Method, outcome.Metrics["flopsBefore"], outcome.Metrics["flopsAfter"], outcome.Metrics["flopsReduction"], total.Elapsed.TotalSeconds);
        return outcome;
    }

    /// <summary>The FLOPs metrics every compressor of this plugin reports, weight or channel pruning, under the same names.</summary>
    internal static void RecordFlops(Dictionary<string, double> metrics, ModelStats before, ModelStats after)
    {
        metrics["denseFlops"] = before.DenseFlops;
        metrics["flopsBefore"] = before.Flops;
        metrics["flopsAfter"] = after.Flops;
        metrics["flopsReduction"] = before.DenseFlops / after.Flops;
    }

    private void Report(PipelineContext context, IModel model, FlopsBudget budget, LayerSparsityPlan plan, CalibrationSet? calibration, StepOutcome outcome, string predictionMetric)
    {
        var before = budget.Before;
        var after = ModelStats.Measure(model, budget.Costs);
        var densePrunable = before.DenseFlops - budget.OtherFlopsAtInput;
        var m = outcome.Metrics;
        RecordFlops(m, before, after);
        m["prunableFlopsBefore"] = before.PrunableFlops;
        m["prunableFlopsAfter"] = after.PrunableFlops;
        m["prunableFlopsReduction"] = densePrunable / after.PrunableFlops;
        m["otherFlops"] = budget.OtherFlopsAtInput;
        // Both counts: flops_* above are at the budget's input; capacity_* at the model's configured capacity.
        var capacityAfter = ModelStats.Measure(model);
        m["capacityDenseFlops"] = capacityAfter.DenseFlops;
        m["capacityFlopsAfter"] = capacityAfter.Flops;
        m["capacityFlopsReduction"] = capacityAfter.DenseFlops / capacityAfter.Flops;
        m["costsAtCalibrationInput"] = budget.Costs is null ? 0 : 1;
        if (calibration is not null)
            foreach (var (key, value) in calibration.Input) m["input/" + key] = value;
        m["targetFlops"] = budget.TargetFlops;
        var achieved = budget.Scope == BudgetScope.WholeModel ? after.Flops : after.PrunableFlops;
        m["budgetRelativeError"] = (achieved - budget.TargetFlops) / budget.TargetFlops;
        m["params"] = after.Params;
        m["nonzeroParamsBefore"] = before.NonzeroParams;
        m["nonzeroParamsAfter"] = after.NonzeroParams;
        if (calibration is not null)
        {
            // Both kinds whichever drives the allocation, so a bench can rank them against the AP they cost (issue 10 §3):
            // one forward pass over the calibration set gives all three.
            var detectionAware = model.DistortionOutputs.Any(o => o.Group == DistortionGroup.Confidence);
            List<DistortionWeights> kinds = [calibration.Weights, calibration.Weights with { Kind = DistortionKind.Raw }];
            if (detectionAware) kinds.Add(calibration.Weights with { Kind = DistortionKind.DetectionAware });
            var distortions = calibration.Measure(model, kinds);
            m["distortionMeasured"] = distortions[0];
            m["distortionRaw"] = distortions[1];
            if (detectionAware) m["distortionDetectionAware"] = distortions[2];
            m["calibrationSamples"] = calibration.Samples;
        }
        if (plan.Layers.All(l => !double.IsNaN(l.PredictedDistortion)))
            m[predictionMetric] = plan.Layers.Sum(l => l.PredictedDistortion);

        outcome.Tables.Add(plan.ToTable());
        outcome.Series[$"{Method} per-layer sparsity"] = plan.ToSeries();
        outcome.Notes.Add($"{Method}: budget over {(budget.Scope == BudgetScope.WholeModel ? "whole-model FLOPs (ModelStats.Flops, incl. OtherFlopsPerSample)" : "prunable-layer FLOPs only")}, " +
                          $"counted {(budget.Costs is null ? "at the model's capacity" : "at the calibration samples' mean input")}; " +
                          $"whole-model reduction {m["flopsReduction"]:F3}x, prunable-layer reduction {m["prunableFlopsReduction"]:F3}x, at capacity {m["capacityFlopsReduction"]:F3}x (FLOPs = MACs per sample).");
        context.Set(plan);
        var file = $"{Method}-plan.json";
        plan.Save(Path.Combine(context.Services.OutputDirectory, file));
        outcome.Files.Add(file);
    }
}

/// <summary>Same sparsity in every layer, smallest magnitudes first.</summary>
public sealed class UniformMagnitudeCompressor(PruningOptions options) : PruningCompressor<PruningOptions>(options)
{
    protected override string Method => "uniform-magnitude";

    private protected override Decision Decide(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet? calibration, StepOutcome outcome)
    {
        var watch = Stopwatch.StartNew();
        var pruned = MagnitudeBaselines.Uniform(budget.Candidates, budget.CandidateBudget);
        outcome.Metrics["allocationSeconds"] = watch.Elapsed.TotalSeconds;
        return new Decision(pruned, budget.Candidates.Select(MagnitudeBaselines.MagnitudeScores).ToArray(), pruned.Select(_ => double.NaN).ToArray());
    }
}

/// <summary>One threshold over every layer's weight scores: the weights of lowest score anywhere go first.</summary>
public abstract class GlobalThresholdCompressor : PruningCompressor<PruningOptions>
{
    private readonly Func<PruningCandidate, Tensor> score;

    private protected GlobalThresholdCompressor(PruningOptions options, Func<PruningCandidate, Tensor> score) : base(options) => this.score = score;

    private protected override Decision Decide(PipelineContext context, IModel model, FlopsBudget budget, CalibrationSet? calibration, StepOutcome outcome)
    {
        var watch = Stopwatch.StartNew();
        var scores = budget.Candidates.Select(score).ToArray();
        var pruned = MagnitudeBaselines.Global(budget.Candidates, scores, budget.CandidateBudget);
        outcome.Metrics["allocationSeconds"] = watch.Elapsed.TotalSeconds;
        return new Decision(pruned, scores, pruned.Select(_ => double.NaN).ToArray());
    }
}

/// <summary>One magnitude threshold over all layers.</summary>
public sealed class GlobalMagnitudeCompressor(PruningOptions options) : GlobalThresholdCompressor(options, MagnitudeBaselines.MagnitudeScores)
{
    protected override string Method => "global-magnitude";
}

/// <summary>LAMP scores (Lee et al., ICLR 2021), one global threshold.</summary>
public sealed class LampCompressor(PruningOptions options) : GlobalThresholdCompressor(options, MagnitudeBaselines.LampScores)
{
    protected override string Method => "lamp";
}
