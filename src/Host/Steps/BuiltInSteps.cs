using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Autofac;
using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;
using Platform.Host.Pipeline;

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
}

public sealed class TrainStep(TrainStepOptions options, RunServices services) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("train");
        var outcome = new StepOutcome();
        if (options.SkipIfLoaded && context.Items.TryGetValue(LoadStep.LoadedFromKey, out var from))
        {
            outcome.Notes.Add($"Skipped: the model was loaded from {from}.");
            outcome.Metrics["skipped"] = 1;
            return outcome;
        }
        var history = new Trainer(services).Fit(model, context.Split(options.Split), options, context.StepDirectory("checkpoints"));
        outcome.Metrics["trainSeconds"] = history.Seconds;
        outcome.Metrics["firstEpochLoss"] = history.EpochLoss[0];
        outcome.Metrics["lastEpochLoss"] = history.EpochLoss[^1];
        var epochs = Enumerable.Range(1, history.EpochLoss.Count).Select(e => (double)e).ToArray();
        outcome.Series["loss"] = new Series("epoch", "training loss", epochs, history.EpochLoss);
        foreach (var term in history.EpochTerms[0].Keys)
            outcome.Series[$"loss-{term}"] = new Series("epoch", term, epochs, history.EpochTerms.Select(t => t[term]).ToArray());
        return outcome;
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
}

public sealed class EvaluateStep(EvaluateStepOptions options, RunServices services, ComponentRegistry registry) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("evaluate");
        var name = string.IsNullOrEmpty(options.Evaluator) ? context.Dataset.DefaultEvaluator : options.Evaluator;
        var where = $"Pipeline:Steps:{context.CurrentStep.Index}:Options:Evaluator";
        var descriptor = registry.Find(name, where, ComponentKind.Evaluator);
        var evaluatorOptions = new ConfigurationBuilder()
            .AddInMemoryCollection(options.EvaluatorOptions.Select(kv => KeyValuePair.Create("EvaluatorOptions:" + kv.Key, (string?)kv.Value)))
            .Build().GetSection("EvaluatorOptions");
        var evaluator = registry.Create<IEvaluator>(descriptor, registry.BindOptions(descriptor, evaluatorOptions), new TypedParameter(typeof(RunServices), services));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var items = Inference.Predict(model, context.Split(options.Split), services, options.BatchSize, options.MaxSamples, $"evaluate {options.Split}");
        var inferenceSeconds = watch.Elapsed.TotalSeconds;
        var outcome = evaluator.Evaluate(items, context.Dataset.Info, context.StepDirectory("evaluation"));
        outcome.Metrics["samples"] = items.Count;
        outcome.Metrics["inferenceSecondsPerSample"] = items.Count == 0 ? 0 : inferenceSeconds / items.Count;
        return outcome;
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
    public StepOutcome Run(PipelineContext context)
    {
        var model = options.Role == ModelRole.Teacher
            ? context.Teacher ?? throw new PlatformException($"Pipeline:Steps:{context.CurrentStep.Index}:Options:Role: the pipeline has no teacher to save.")
            : context.RequireModel("save");
        var path = string.IsNullOrEmpty(options.Path) ? System.IO.Path.Combine(services.OutputDirectory, "model.ckpt") : options.Path;
        Checkpoint.Save(model, path);
        var outcome = new StepOutcome();
        outcome.Files.Add(System.IO.Path.GetFullPath(path));
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
}

public sealed class LoadStep(LoadStepOptions options) : IPipelineStep
{
    public const string LoadedFromKey = "load.path";

    public StepOutcome Run(PipelineContext context)
    {
        var outcome = new StepOutcome();
        if (!File.Exists(options.Path) && options.Optional)
        {
            outcome.Notes.Add($"{options.Path} does not exist yet; continuing with the pipeline's own model.");
            outcome.Metrics["loaded"] = 0;
            return outcome;
        }
        var model = context.Components.LoadModel(options.Path);
        if (options.Role == ModelRole.Teacher)
        {
            context.Teacher?.Dispose();
            context.Teacher = model;
        }
        else
        {
            context.Model?.Dispose();
            context.Model = model;
            context.Items[LoadedFromKey] = options.Path;
        }
        outcome.Metrics["loaded"] = 1;
        outcome.Files.Add(System.IO.Path.GetFullPath(options.Path));
        return outcome;
    }
}
