using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// How the training loop steps: batch, AdamW, clipping, which samples. What a run adds (its epochs, its schedule) is
/// in <see cref="TrainOptions"/>; a compressor that trains in stages of its own (distillation) builds on this part.
/// </summary>
public class TrainingLoopOptions
{
    [Description("Samples per optimiser step.")]
    [Range(1, 4096)]
    public int BatchSize { get; set; } = 4;

    [Description("Peak learning rate of AdamW (one-cycle schedule: warm-up, then cosine decay).")]
    [Range(1e-8, 10.0)]
    public double LearningRate { get; set; } = 2e-3;

    [Description("Decoupled weight decay of AdamW.")]
    [Range(0.0, 1.0)]
    public double WeightDecay { get; set; } = 1e-2;

    [Description("Clip the gradient's global norm to this value (0: no clipping).")]
    [Range(0.0, 1e6)]
    public double GradientClip { get; set; } = 10;

    [Description("Split to train on.")]
    public string Split { get; set; } = "train";

    [Description("Use at most this many training samples (0: all).")]
    [Range(0, int.MaxValue)]
    public int MaxSamples { get; set; }

    [Description("Keep an exponential moving average of the weights and batch-norm statistics with this decay, updated after every step, and end the run with the average (0: off). The decay of step t is min(this, (1 + t) / (10 + t)), so the first steps are soon forgotten; that ramp stays below 0.99 until step 890, so in shorter runs it sets the decay (over 300 steps three quarters of the average rests on the last 15 % of them).")]
    [Range(0.0, 0.99999)]
    public double WeightAverageDecay { get; set; }

    [Description("Collate the next batch on another thread while this one trains, where the model allows it (IModel.CollatesOffThread). The result is the same either way; on a GPU it hides the host's share of each step.")]
    public bool PrefetchBatch { get; set; } = true;

    /// <summary>The samples an epoch draws from <paramref name="data"/> (at most MaxSamples when that is set).</summary>
    public int SamplesPerEpoch(ISampleSource data) => MaxSamples > 0 ? Math.Min(MaxSamples, data.Count) : data.Count;

    /// <summary>Optimiser steps per epoch on <paramref name="data"/> (the last batch may be short).</summary>
    public int StepsPerEpoch(ISampleSource data) => (SamplesPerEpoch(data) + BatchSize - 1) / BatchSize;
}

/// <summary>A training run: the loop's options, how many epochs, and the learning-rate schedule over them.</summary>
public class TrainOptions : TrainingLoopOptions
{
    public TrainOptions()
    {
    }

    /// <summary>A run of <paramref name="epochs"/> with the loop settings of <paramref name="loop"/>.</summary>
    public TrainOptions(TrainingLoopOptions loop, int epochs, LearningRateSchedule schedule)
    {
        BatchSize = loop.BatchSize;
        LearningRate = loop.LearningRate;
        WeightDecay = loop.WeightDecay;
        GradientClip = loop.GradientClip;
        Split = loop.Split;
        MaxSamples = loop.MaxSamples;
        WeightAverageDecay = loop.WeightAverageDecay;
        PrefetchBatch = loop.PrefetchBatch;
        Epochs = epochs;
        Schedule = schedule;
    }

    [Description("Passes over the training split.")]
    [Range(1, 100000)]
    public int Epochs { get; set; } = 10;

    [Description("Learning-rate schedule: OneCycle (warm-up to LearningRate, then cosine decay) or Cosine (start at LearningRate, cosine decay, no warm-up: for fine-tuning trained weights).")]
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.OneCycle;

    [Description("Save a checkpoint every this many epochs (0: only the last).")]
    [Range(0, 100000)]
    public int CheckpointEvery { get; set; }

    [Description("Go on from the latest epoch checkpoint in the run's checkpoint folder (written with CheckpointEvery), with its optimiser state: the result is the uninterrupted run's. Settings must match the interrupted run's; without a checkpoint, training starts from the beginning.")]
    public bool Resume { get; set; }
}

public enum LearningRateSchedule
{
    /// <summary>Warm-up to the peak, then cosine decay (Smith 2018): for training from scratch.</summary>
    OneCycle,

    /// <summary>Cosine decay from the peak without warm-up: for a later stage that fine-tunes trained weights.</summary>
    Cosine,
}

/// <summary>What a training run measured.</summary>
/// <param name="EpochLearningRate">The learning rate of each epoch's first step (the schedule as it ran).</param>
public sealed record TrainHistory(IReadOnlyList<double> EpochLoss, IReadOnlyList<IReadOnlyDictionary<string, double>> EpochTerms, double Seconds,
    IReadOnlyList<double> EpochLearningRate);

/// <summary>
/// The one training loop: seeded shuffling, AdamW with a one-cycle schedule, gradient clipping,
/// masks re-applied after every step (pruned weights stay zero), an optional average of the weights, progress, checkpoints.
/// <paramref name="lossOverride"/> lets a compressor train with its own objective (distillation) on the same loop.
/// </summary>
public sealed class Trainer(RunServices services)
{
    private readonly ILogger logger = services.CreateLogger("train");

    /// <summary>Whether <paramref name="folder"/> holds an epoch checkpoint with its training state, which Resume continues from.</summary>
    public static bool CanResumeFrom(string folder) => TrainingState.Latest(folder) is not null;

    /// <summary>
    /// Computations of one step before non-finite gradients count as divergence. Divergence repeats on every attempt; a
    /// fault of a native kernel that reads stale memory may not. The one such fault found (oneDNN's conv input gradient,
    /// see TorchRuntime) is now avoided at start-up; recomputation stays as a guard, and its warning names the tensors.
    /// </summary>
    public const int StepAttempts = 3;

    /// <summary>Steps recomputed because their gradients were non-finite while their loss was finite.</summary>
    public int RecomputedSteps { get; private set; }

    public delegate LossTerms LossFunction(IModel model, ModelBatch batch);

    public TrainHistory Fit(IModel model, ISampleSource data, TrainOptions options, string? checkpointDirectory = null,
        LossFunction? lossOverride = null, IEnumerable<TorchSharp.Modules.Parameter>? extraParameters = null, string description = "train")
    {
        TorchRuntime.Initialize();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var count = options.SamplesPerEpoch(data);
        if (count == 0) throw new InvalidOperationException($"Split '{data.Name}' has no samples to train on.");
        var stepsPerEpoch = options.StepsPerEpoch(data);
        var parameters = model.Module.parameters().Concat(extraParameters ?? []).Where(p => p.requires_grad).ToList();
        var optimizer = optim.AdamW(parameters, options.LearningRate, weight_decay: options.WeightDecay);
        var totalSteps = Math.Max(1, options.Epochs * stepsPerEpoch);
        var scheduler = options.Schedule == LearningRateSchedule.Cosine
            ? optim.lr_scheduler.CosineAnnealingLR(optimizer, totalSteps)
            : optim.lr_scheduler.OneCycleLR(optimizer, options.LearningRate, total_steps: totalSteps);
        var random = Seeding.Random(services.Seed, "train-shuffle");
        var loss = lossOverride ?? ((m, b) => m.Loss(m.Forward(b), b));
        var epochLoss = new List<double>();
        var epochTerms = new List<IReadOnlyDictionary<string, double>>();
        var epochRate = new List<double>();
        var fingerprint = TrainingState.FingerprintOf(options, services.Seed, count, parameters.Count);
        var firstEpoch = 0;
        WeightAverage? average = null;
        if (options.Resume && checkpointDirectory is not null && TrainingState.Latest(checkpointDirectory) is { } resumed)
        {
            if (resumed.Fingerprint != fingerprint)
                throw new InvalidOperationException($"Resume: {checkpointDirectory} holds epoch {resumed.Epoch} of a run with other settings ({resumed.Fingerprint}); this run has {fingerprint}. Train into another folder, or resume with the same settings.");
            if (options.WeightAverageDecay > 0)
            {
                // The average was saved as a checkpoint of its own: load it, take it as the average, then load the live weights.
                var averagePath = TrainingState.AveragePath(checkpointDirectory, resumed.Epoch);
                if (!File.Exists(averagePath))
                    throw new InvalidDataException($"Resume: {averagePath} is missing; a run with WeightAverageDecay saves its average there beside each epoch checkpoint.");
                Checkpoint.LoadInto(model, averagePath);
                average = new WeightAverage(model.Module, options.WeightAverageDecay, (long)resumed.Epoch * stepsPerEpoch);
            }
            Checkpoint.LoadInto(model, TrainingState.CheckpointPath(checkpointDirectory, resumed.Epoch));
            // Replay what the finished epochs drew and stepped, so shuffles and the schedule continue where they were.
            for (var e = 0; e < resumed.Epoch; e++)
            {
                for (var i = 0; i < count; i++) random.Next();
                // Each finished epoch read every sample of the epoch once: augmentation drawn from read counts goes on from there.
                (data as IReadCountingSource)?.CountReads(Enumerable.Range(0, count));
            }
            for (var i = 0; i < resumed.Epoch * stepsPerEpoch; i++) scheduler.step();
            resumed.Restore(checkpointDirectory, optimizer);
            epochLoss.AddRange(resumed.EpochLoss);
            epochTerms.AddRange(resumed.EpochTerms);
            epochRate.AddRange(resumed.EpochRate);
            firstEpoch = resumed.Epoch;
            logger.LogInformation("Resuming from epoch {Epoch} of {Epochs} ({Checkpoint}).", resumed.Epoch, options.Epochs, TrainingState.CheckpointPath(checkpointDirectory, resumed.Epoch));
        }
        else if (options.Resume)
        {
            logger.LogInformation("Resume: no epoch checkpoint with its training state in {Folder}; training from the start.", checkpointDirectory ?? "(no checkpoint folder)");
        }

        if (options.WeightAverageDecay > 0) average ??= new WeightAverage(model.Module, options.WeightAverageDecay);
        using var averageCopies = average;   // its tensors are freed however the run ends
        var prefetch = options.PrefetchBatch && model.CollatesOffThread;
        model.Module.train();
        using var progress = services.Progress.Start(description, (long)options.Epochs * stepsPerEpoch);
        progress.Advance((long)firstEpoch * stepsPerEpoch, $"resumed at epoch {firstEpoch}");
        for (var epoch = firstEpoch; epoch < options.Epochs; epoch++)
        {
            var order = Enumerable.Range(0, count).OrderBy(_ => random.Next()).ToArray();
            double sum = 0;
            var terms = new Dictionary<string, double>();
            using var batches = new BatchPrefetch(step => model.Collate(order.Skip(step * options.BatchSize).Take(options.BatchSize).Select(data.Get).ToArray(), services.Device),
                stepsPerEpoch, prefetch);
            for (var step = 0; step < stepsPerEpoch; step++)
            {
                // The collector starts (and runs finalizers) here, while no prefetch runs: see NoGcRegion.
                using var quiet = NoGcRegion.Enter();
                using var scope = NewDisposeScope();
                using var batch = batches.Take(step);
                // The running statistics of batch norms, so that a recomputed step updates them once.
                var buffers = model.Module.named_buffers().Select(b => (Buffer: b.buffer, Saved: b.buffer.clone())).ToList();
                LossTerms result;
                float value;
                for (var attempt = 1; ; attempt++)
                {
                    optimizer.zero_grad();
                    result = loss(model, batch);
                    value = result.Total.item<float>();
                    if (float.IsFinite(value))
                    {
                        result.Total.backward();
                        // The norm is checked before clipping: clipping scales every gradient by clip / norm, so one bad
                        // tensor would make them all NaN and the diagnosis below could not say which it was.
                        if (double.IsFinite(GradientNorm(parameters)))
                        {
                            if (options.GradientClip > 0) nn.utils.clip_grad_norm_(parameters, options.GradientClip);
                            break;
                        }
                    }
                    // A non-finite loss or gradient that a recomputation of the same step (same weights, same batch) does not
                    // repeat is a fault of the native code, not divergence: recompute; StepAttempts in a row stops the run.
                    var where = float.IsFinite(value) ? NonFiniteGradients(model, parameters) : "";
                    if (attempt == StepAttempts)
                        throw new InvalidOperationException(float.IsFinite(value)
                            ? $"Gradients became non-finite {StepAttempts} times in a row at epoch {epoch + 1}, step {step + 1} (loss {value}; {where}); lower LearningRate or check the data."
                            : $"Training loss became {value} at epoch {epoch + 1}, step {step + 1} ({NonFiniteDiagnosis(model, batch, loss, result)}); lower LearningRate or check the data.");
                    logger.LogWarning("Non-finite {What} at epoch {Epoch}, step {Step} (loss {Loss}{Where}); recomputing the step.",
                        float.IsFinite(value) ? "gradients" : "loss", epoch + 1, step + 1, value, where.Length > 0 ? "; " + where : "");
                    foreach (var (buffer, saved) in buffers) buffer.copy_(saved);
                    RecomputedSteps++;
                }
                foreach (var (_, saved) in buffers) saved.Dispose();
                if (step == 0) epochRate.Add(optimizer.ParamGroups.First().LearningRate);
                optimizer.step();
                scheduler.step();
                model.Masks.Apply(model.PrunableLayers);
                average?.Update();
                sum += value;
                foreach (var (k, v) in result.Terms) terms[k] = terms.GetValueOrDefault(k) + v;
                progress.Advance(1, $"epoch {epoch + 1}/{options.Epochs} loss {sum / (step + 1):F4}");
                // The next batch is finished inside this step's region, so no collection meets its native calls.
                batches.Settle();
            }
            epochLoss.Add(sum / stepsPerEpoch);
            epochTerms.Add(terms.ToDictionary(kv => kv.Key, kv => kv.Value / stepsPerEpoch));
            if (checkpointDirectory is not null && options.CheckpointEvery > 0 && (epoch + 1) % options.CheckpointEvery == 0)
            {
                Checkpoint.Save(model, TrainingState.CheckpointPath(checkpointDirectory, epoch + 1));
                if (average is not null)
                {
                    average.Swap();
                    Checkpoint.Save(model, TrainingState.AveragePath(checkpointDirectory, epoch + 1));
                    average.Swap();
                }
                new TrainingState
                {
                    Epoch = epoch + 1, Fingerprint = fingerprint, EpochLoss = [.. epochLoss],
                    EpochTerms = epochTerms.Select(t => t.ToDictionary()).ToList(), EpochRate = [.. epochRate],
                }.Save(checkpointDirectory, optimizer);
            }
        }
        if (average is not null)
        {
            average.CopyIntoModel();
            model.Masks.Apply(model.PrunableLayers);
        }
        model.Module.eval();
        if (checkpointDirectory is not null) Checkpoint.Save(model, Path.Combine(checkpointDirectory, "last.ckpt"));
        return new TrainHistory(epochLoss, epochTerms, watch.Elapsed.TotalSeconds, epochRate);
    }

    private static double GradientNorm(IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var norms = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!.norm()).ToList();
        return norms.Count == 0 ? 0 : stack(norms).norm().to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>
    /// Which parameters' gradients are non-finite (at most five named, with their count of bad entries) and whether
    /// any weight is: the first thing to know about a fault that recomputation may or may not clear.
    /// </summary>
    private static string NonFiniteGradients(IModel model, IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        using var _ = no_grad();
        var names = model.Module.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        var bad = new List<string>();
        var brokenWeights = 0;
        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (!p.isfinite().all().item<bool>()) brokenWeights++;
            using var grad = p.grad;
            if (grad is null) continue;
            var count = grad.isfinite().logical_not().sum().item<long>();
            if (count > 0) bad.Add($"{names.GetValueOrDefault(p.Handle, $"extra[{i}]")} ({count} of {grad.numel()})");
        }
        return $"non-finite gradients in {bad.Count} of {parameters.Count} tensors: {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? ", ..." : "")}; non-finite weights in {brokenWeights}";
    }

    /// <summary>
    /// Where a non-finite loss came from: weights already broken by an earlier update, non-finite inputs, one loss
    /// term, or a computation that gives a finite loss when repeated on the same batch (a transient fault, not the data).
    /// </summary>
    private static string NonFiniteDiagnosis(IModel model, ModelBatch batch, LossFunction loss, LossTerms result)
    {
        using var _ = no_grad();
        var brokenWeights = model.Module.named_parameters().Where(p => !p.parameter.isfinite().all().item<bool>()).Select(p => p.name).ToList();
        var brokenInputs = batch.Tensors.Where(t => t.Value.is_floating_point() && !t.Value.isfinite().all().item<bool>()).Select(t => t.Key).ToList();
        var terms = string.Join(", ", result.Terms.Select(t => $"{t.Key} {t.Value:G4}"));
        var again = loss(model, batch).Total.item<float>();
        return $"non-finite weights: {(brokenWeights.Count == 0 ? "none" : string.Join(", ", brokenWeights.Take(5)))}; non-finite inputs: {(brokenInputs.Count == 0 ? "none" : string.Join(", ", brokenInputs))}; " +
               $"terms: {terms}; the same batch again: {again:G6}";
    }
}
