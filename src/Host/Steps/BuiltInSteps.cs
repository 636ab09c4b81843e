using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Autofac;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Host.Pipeline;
using TorchSharp;

namespace Platform.Host.Steps;

/// <summary>The host's own steps, registered like any plugin's so that they list, describe and bind the same way.</summary>
public sealed class BuiltInStepsModule : Autofac.Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterStep<TrainStep, TrainStepOptions>("train", "Train the pipeline's model on a split with the kit's training loop (AdamW, one-cycle, checkpoints).");
        builder.RegisterStep<EvaluateStep, EvaluateStepOptions>("evaluate", "Score the model on a split with the dataset's evaluator (or the one named).");
        builder.RegisterStep<SaveStep, SaveStepOptions>("save", "Save the model (weights, masks, spec) to a checkpoint file.");
        builder.RegisterStep<LoadStep, LoadStepOptions>("load", "Load a checkpoint as the pipeline's model or teacher.");
        builder.RegisterStep<LatencyStep, LatencyStepOptions>("measure-latency", "Median forward latency per sample (dense kernels) and FLOPs by part of the model.");
        builder.RegisterStep<InspectDataStep, InspectDataStepOptions>("inspect-data", "Read samples of a split as later steps see them and report points (and boxes) per sample.");
    }
}

public enum ModelRole
{
    Model,
    Teacher,
}

public sealed class TrainStepOptions : TrainOptions
{
    [Description("Skip training when the model came from a 'load' step (train once, reuse the checkpoint).")]
    public bool SkipIfLoaded { get; set; }

    [Description("Weight of a distillation term added to the training loss: the output distortion between the pipeline's Teacher and the model on each batch (the model's DistortionOutputs, compared as compressors compare them: mean squared difference per output). Load the teacher first with a load step, Role: Teacher (for recovery after pruning: the checkpoint before it). 0: no distillation.")]
    [Range(0.0, 1e6)]
    public double DistillWeight { get; set; }

    [Description("How the distillation term compares outputs: Raw (every element alike) or DetectionAware (heatmaps in sigmoid space with foreground weighted up, regressions only at the teacher's peaks), as the compressors' Distortion option.")]
    public DistortionKind DistillDistortion { get; set; } = DistortionKind.Raw;

    [Description("Weight of a feature-imitation term (FitNets): the state the model leaves entering stage FeatureDistillStage, mapped by a 1x1 adaptor into the teacher's channels, against the teacher's state there (mean squared difference over the teacher's mean square). The adaptor starts at the least-squares fit on the first batch and trains with the model. Needs a teacher (load step, Role: Teacher) and a model that runs in stages (IStagedForward: CenterPoint). 0: none.")]
    [Range(0.0, 1e6)]
    public double FeatureDistillWeight { get; set; }

    [Description("The stage whose entering state FeatureDistillWeight compares: 1 .. stages - 1, or negative from the end (-1: the features the model's last stage reads; for CenterPoint, the head's shared conv output).")]
    public int FeatureDistillStage { get; set; } = -1;

    [Description("Temperature of the feature term's spatial attention (Zhang and Ma, ICLR 2021): each position of the teacher's state is weighted by n·softmax(a / (mean(a)·T)), a being its mean absolute activation over channels, so that the term, and the adaptor's fit, dwell where the teacher's features are active (objects on a mostly empty BEV grid). Smaller: more peaked. 0: every position weighs the same.")]
    [Range(0.0, 1e6)]
    public double FeatureDistillAttention { get; set; }
}

/// <summary>Splits the built-in steps read: an empty one is an error (an empty ImageSets file evaluated to samples=0 with status ok).</summary>
internal static class Splits
{
    public static ISampleSource NonEmpty(PipelineContext context, string split, string step)
    {
        var source = context.Split(split);
        if (source.Count == 0)
            throw new PlatformException($"{step}: split '{split}' of dataset '{context.Dataset.Info.Name}' has no samples.");
        return source;
    }
}

public sealed class TrainStep(TrainStepOptions options, RunServices services) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("train");
        var outcome = new StepOutcome();
        if (options.SkipIfLoaded && context.ModelLoadedFrom is { } from)
        {
            outcome.Notes.Add($"Skipped: the model was loaded from {from}.");
            outcome.Metrics["skipped"] = 1;
            return outcome;
        }
        var split = Splits.NonEmpty(context, options.Split, "train");
        var checkpoints = context.StepDirectory("checkpoints");
        using var features = FeatureImitation(context, split);
        if (options.Resume) BringBackArchivedCheckpoints(checkpoints, context);
        var history = new Trainer(services).Fit(model, split, options, checkpoints, DistillationLoss(context, features), features?.Parameters);
        outcome.Metrics["trainSeconds"] = history.Seconds;
        outcome.Metrics["secondsPerStep"] = history.Seconds / ((double)history.EpochLoss.Count * options.StepsPerEpoch(split));
        outcome.Metrics["firstEpochLoss"] = history.EpochLoss[0];
        outcome.Metrics["lastEpochLoss"] = history.EpochLoss[^1];
        if (features is not null) outcome.Metrics["featureAttendedFraction"] = features.AttendedFraction;
        var epochs = Enumerable.Range(1, history.EpochLoss.Count).Select(e => (double)e).ToArray();
        outcome.Series["loss"] = new Series("epoch", "training loss", epochs, history.EpochLoss);
        foreach (var term in history.EpochTerms[0].Keys)
        {
            outcome.Series[$"loss-{term}"] = new Series("epoch", term, epochs, history.EpochTerms.Select(t => t[term]).ToArray());
            outcome.Metrics[$"firstEpochLoss/{term}"] = history.EpochTerms[0][term];
            outcome.Metrics[$"lastEpochLoss/{term}"] = history.EpochTerms[^1][term];
        }
        return outcome;
    }

    /// <summary>
    /// The model's own loss plus DistillWeight times its output distortion against the teacher's outputs on the same batch,
    /// plus FeatureDistillWeight times the feature term of <paramref name="features"/> (null without either): pruned models
    /// recover faster when they are pulled back toward the outputs and features they had.
    /// </summary>
    private Trainer.LossFunction? DistillationLoss(PipelineContext context, FeatureDistillation? features)
    {
        if (options.DistillWeight == 0 && features is null) return null;
        var teacher = Teacher(context, nameof(options.DistillWeight));
        var weights = new DistortionWeights { Kind = options.DistillDistortion };
        return (model, batch) =>
        {
            ModelOutput output, reference;
            torch.Tensor? featureTerm = null;
            if (features is not null) (output, reference, featureTerm) = features.Run(batch);
            else
            {
                output = model.Forward(batch);
                using (torch.no_grad()) reference = teacher.Forward(batch);
            }
            var task = model.Loss(output, batch);
            var total = task.Total;
            var terms = new Dictionary<string, double>(task.Terms);
            if (options.DistillWeight != 0)
            {
                var distortion = OutputDistortion.Between(model, reference, output, weights);
                terms["distill"] = distortion.item<float>();
                total = total + distortion * options.DistillWeight;
            }
            if (featureTerm is not null)
            {
                terms["feature"] = featureTerm.item<float>();
                total = total + featureTerm * options.FeatureDistillWeight;
            }
            return new LossTerms(total, terms);
        };
    }

    /// <summary>The pipeline's teacher, on the run's device in eval mode; refused (naming <paramref name="option"/>) when missing or of another kind.</summary>
    private IModel Teacher(PipelineContext context, string option)
    {
        var key = $"Pipeline:Steps:{context.CurrentStep.Index}:Options:{option}";
        var teacher = context.Teacher ?? throw new PlatformException($"{key}: the pipeline has no teacher; load one first (a load step with Role: Teacher).");
        if (teacher.Spec.Use != context.Model!.Spec.Use)
            throw new PlatformException($"{key}: the teacher is a '{teacher.Spec.Use}' model, the model a '{context.Model.Spec.Use}': their outputs cannot be compared.");
        teacher.Module.to(services.Device);
        teacher.Module.eval();
        return teacher;
    }

    /// <summary>
    /// The feature term's adaptors, fitted on the split's first batch with both models in eval mode (so that fitting does
    /// not move batch-norm statistics); null when FeatureDistillWeight is 0. On a split augmented afresh at each read
    /// (IReadCountingSource) this is one more read of those samples, so their later draws differ from a run without the
    /// term; the run stays reproducible.
    /// </summary>
    private FeatureDistillation? FeatureImitation(PipelineContext context, ISampleSource split)
    {
        if (options.FeatureDistillWeight == 0) return null;
        var key = $"Pipeline:Steps:{context.CurrentStep.Index}:Options:FeatureDistillWeight";
        var teacher = Teacher(context, nameof(options.FeatureDistillWeight));
        if (context.Model is not IStagedForward student || teacher is not IStagedForward staged)
            throw new PlatformException($"{key}: the '{context.Model!.Spec.Use}' model does not run in stages (IStagedForward), so there is no intermediate state to compare.");
        // The adaptors are not in the epoch checkpoints: a resumed run would restart them from a new fit.
        if (options.Resume)
            throw new PlatformException($"{key}: cannot be combined with Resume (the adaptors are not saved with the epoch checkpoints).");
        context.Model.Module.to(services.Device);
        context.Model.Module.eval();
        using var example = context.Model.Collate(Enumerable.Range(0, Math.Min(options.BatchSize, split.Count)).Select(split.Get).ToArray(), services.Device);
        try
        {
            var imitation = FeatureDistillation.Fit(student, staged, options.FeatureDistillStage, example, options.FeatureDistillAttention);
            if (options.FeatureDistillAttention > 0)
                context.Logger.LogInformation("Feature imitation: the attention weights cover {Fraction:P1} of the positions (effective share, first batch).", imitation.AttendedFraction);
            return imitation;
        }
        catch (ArgumentException e)
        {
            throw new PlatformException($"Pipeline:Steps:{context.CurrentStep.Index}:Options:FeatureDistillStage: {e.Message}");
        }
    }

    /// <summary>
    /// A rerun moves the earlier run's files aside (Pipeline:PreviousRun: Archive), epoch checkpoints included: Resume
    /// copies them back from the same step folder of the archived run when this run's own folder has none.
    /// </summary>
    private void BringBackArchivedCheckpoints(string checkpoints, PipelineContext context)
    {
        if (Trainer.CanResumeFrom(checkpoints) || services.PreviousRunDirectory is not { } previous) return;
        var archived = Path.Combine(previous, Path.GetFileName(checkpoints));
        if (!Trainer.CanResumeFrom(archived)) return;
        foreach (var file in Directory.GetFiles(archived)) File.Copy(file, Path.Combine(checkpoints, Path.GetFileName(file)));
        context.Logger.LogInformation("Resume: the epoch checkpoints of the earlier run were copied back from {Archive}.", archived);
    }
}

public sealed class EvaluateStepOptions
{
    [Description("Split to evaluate on.")]
    public string Split { get; set; } = "val";

    [Description("Evaluator component; empty: the dataset's default.")]
    public string? Evaluator { get; set; }

    [Description("Options of the evaluator, by name.")]
    public Dictionary<string, string> EvaluatorOptions { get; set; } = new();

    [Description("Samples per forward pass.")]
    [Range(1, 4096)]
    public int BatchSize { get; set; } = 4;

    [Description("Evaluate at most this many samples (0: all).")]
    [Range(0, int.MaxValue)]
    public int MaxSamples { get; set; }

    [Description("Bootstrap resamples over samples for the intervals of the evaluator's headline metrics (0: no intervals). " +
                 "A later evaluation of the same samples also gets a paired interval of its difference to the first one.")]
    [Range(0, 100000)]
    public int Resamples { get; set; } = 1000;

    [Description("Level of the intervals (0.95: 95 %).")]
    [Range(0.5, 0.999)]
    public double IntervalLevel { get; set; } = 0.95;

    [Description("Seed of the bootstrap resamples (the same seed draws the same resamples, so paired intervals line up).")]
    public int IntervalSeed { get; set; }
}

public sealed class EvaluateStep(EvaluateStepOptions options, RunServices services) : IPipelineStep
{
    private (string Name, IEvaluator Evaluator)? _prepared;

    /// <summary>Creates the evaluator (the dataset's default unless named) with its options bound, before any step runs.</summary>
    public void Prepare(PipelineContext context)
    {
        var name = string.IsNullOrEmpty(options.Evaluator) ? context.Dataset.DefaultEvaluator : options.Evaluator;
        var where = $"Pipeline:Steps:{context.CurrentStep.Index}:Options";
        // The map's entries become a section under their own pipeline key, so a wrong option is named by that key.
        var evaluatorOptions = new ConfigurationBuilder()
            .AddInMemoryCollection(options.EvaluatorOptions.Select(kv => KeyValuePair.Create(where + ":EvaluatorOptions:" + kv.Key, (string?)kv.Value)))
            .Build().GetSection(where + ":EvaluatorOptions");
        _prepared = (name, context.Components.Create<IEvaluator>(name, where + ":Evaluator", evaluatorOptions));
    }

    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("evaluate");
        var split = Splits.NonEmpty(context, options.Split, "evaluate");
        if (_prepared is null) Prepare(context);
        var (name, evaluator) = _prepared!.Value;

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var items = Inference.Predict(model, split, services, options.BatchSize, options.MaxSamples, $"evaluate {options.Split}");
        var inferenceSeconds = watch.Elapsed.TotalSeconds;
        var outcome = evaluator.Evaluate(items, context.Dataset.Info, context.StepDirectory("evaluation"));
        outcome.Metrics["samples"] = items.Count;
        outcome.Metrics["inferenceSecondsPerSample"] = items.Count == 0 ? 0 : inferenceSeconds / items.Count;
        if (outcome.Resamplable is { } resamplable && options.Resamples > 0 && items.Count > 0)
            AddIntervals(outcome, resamplable, context, $"{options.Split}|{name}");
        return outcome;
    }

    /// <summary>
    /// Percentile bootstrap intervals as metrics <c>NAME/lo</c> and <c>NAME/hi</c>; against the first evaluation of
    /// the same samples, the difference <c>NAME/delta</c> with <c>NAME/delta/lo</c> and <c>NAME/delta/hi</c>.
    /// </summary>
    private void AddIntervals(StepOutcome outcome, IResamplableMetrics evaluation, PipelineContext context, string key)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        IResamplableMetrics? reference = null;
        int? referenceStep = null;
        if (context.ReferenceEvaluations.TryGetValue(key, out var first))
        {
            if (first.Evaluation.SampleIds.SequenceEqual(evaluation.SampleIds, StringComparer.Ordinal))
                (referenceStep, reference) = (first.StepIndex, first.Evaluation);
            else
                outcome.Notes.Add($"No paired interval: step {first.StepIndex} evaluated other samples of this split.");
        }
        else
        {
            context.ReferenceEvaluations[key] = (context.CurrentStep.Index, evaluation);
        }
        var resamples = Bootstrap.Resamples(evaluation.SampleIds.Count, options.Resamples, options.IntervalSeed);
        var intervals = Bootstrap.Intervals(evaluation, resamples, options.IntervalLevel, reference);
        static string F(double v) => v.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var m in intervals)
        {
            outcome.Metrics[m.Metric + "/lo"] = m.Interval.Low;
            outcome.Metrics[m.Metric + "/hi"] = m.Interval.High;
            var row = new List<string> { m.Metric, F(m.Value), $"[{F(m.Interval.Low)}, {F(m.Interval.High)}]" };
            if (m.Delta is { } delta && m.DeltaInterval is { } d)
            {
                outcome.Metrics[m.Metric + "/delta"] = delta;
                outcome.Metrics[m.Metric + "/delta/lo"] = d.Low;
                outcome.Metrics[m.Metric + "/delta/hi"] = d.High;
                row.AddRange([F(delta), $"[{F(d.Low)}, {F(d.High)}]"]);
            }
            else if (reference is not null)
            {
                row.AddRange(["-", "-"]);
            }
            rows.Add(row);
        }
        var level = (options.IntervalLevel * 100).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
        List<string> columns = ["metric", "value", $"{level} % interval"];
        if (reference is not null) columns.AddRange([$"change vs step {referenceStep}", $"{level} % paired interval"]);
        outcome.Tables.Add(new ReportTable($"Bootstrap intervals over {evaluation.SampleIds.Count} samples ({options.Resamples} resamples, seed {options.IntervalSeed})", columns, rows));
        outcome.Metrics["intervalSeconds"] = watch.Elapsed.TotalSeconds;
    }
}

public sealed class SaveStepOptions
{
    [Description("Checkpoint file (relative to the working directory); empty: model.ckpt in the run's output folder.")]
    public string? Path { get; set; }

    [Description("Which model to save: Model or Teacher.")]
    public ModelRole Role { get; set; } = ModelRole.Model;
}

public sealed class SaveStep(SaveStepOptions options, RunServices services) : IPipelineStep
{
    /// <summary>A path outside the output root is refused before the first step runs, not after training.</summary>
    public void Prepare(PipelineContext context) => Target(context);

    private string Target(PipelineContext context) => ContainedPaths.Check(
        string.IsNullOrEmpty(options.Path) ? System.IO.Path.Combine(services.OutputDirectory, "model.ckpt") : options.Path,
        services.OutputRoot, $"Pipeline:Steps:{context.CurrentStep.Index}:Options:Path");

    public StepOutcome Run(PipelineContext context)
    {
        var model = options.Role == ModelRole.Teacher
            ? context.Teacher ?? throw new PlatformException($"Pipeline:Steps:{context.CurrentStep.Index}:Options:Role: the pipeline has no teacher to save.")
            : context.RequireModel("save");
        var path = Target(context);
        // A pipeline file passed around must not be able to overwrite someone's unrelated file (issue 15 §2).
        if (File.Exists(path) && !Checkpoint.IsCheckpoint(path))
            throw new PlatformException($"Pipeline:Steps:{context.CurrentStep.Index}:Options:Path: {path} exists and is not a checkpoint of this platform; refusing to replace it.");
        Checkpoint.Save(model, path);
        var outcome = new StepOutcome();
        outcome.Files.Add(System.IO.Path.GetFullPath(path));
        outcome.Provenance["checkpoint"] = path;
        outcome.Provenance["checkpointSha256"] = Checkpoint.Sha256(path);
        outcome.Metrics["bytes"] = new FileInfo(path).Length;
        return outcome;
    }
}

public sealed class LoadStepOptions
{
    [Description("Checkpoint file to load (relative to the working directory).")]
    [Required]
    public string Path { get; set; } = "";

    [Description("Load as the pipeline's Model or as its Teacher.")]
    public ModelRole Role { get; set; } = ModelRole.Model;

    [Description("When the file does not exist, go on with the model the pipeline already has (train once, reuse after).")]
    public bool Optional { get; set; }

    [Description("Role Model: load the checkpoint as it was saved even when it holds another model than the pipeline's Model or was trained on other classes than the dataset's (otherwise refused; the pipeline's Model:Options are laid over the saved ones).")]
    public bool AllowModelChange { get; set; }
}

public sealed class LoadStep(LoadStepOptions options) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var outcome = new StepOutcome();
        if (!File.Exists(options.Path) && options.Optional)
        {
            outcome.Notes.Add($"{options.Path} does not exist yet; continuing with the pipeline's own model.");
            outcome.Metrics["loaded"] = 0;
            return outcome;
        }
        // The pipeline's Model and dataset constrain the model it loads, not a teacher.
        var model = options.Role == ModelRole.Model && !options.AllowModelChange
            ? context.Components.LoadPipelineModel(options.Path, context.Dataset.Info)
            : context.Components.LoadModel(options.Path);
        if (options.Role == ModelRole.Teacher)
        {
            context.Teacher?.Dispose();
            context.Teacher = model;
        }
        else
        {
            context.Model?.Dispose();
            context.Model = model;
            context.ModelLoadedFrom = options.Path;
        }
        outcome.Metrics["loaded"] = 1;
        outcome.Files.Add(System.IO.Path.GetFullPath(options.Path));
        outcome.Provenance["checkpoint"] = options.Path;
        outcome.Provenance["checkpointSha256"] = Checkpoint.Sha256(options.Path);
        return outcome;
    }
}
