using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>Options of the structured (channel) pruning compressors.</summary>
public sealed class ChannelPruningOptions : PruningBudgetOptions
{
    [Description("How channels are ranked within a group (the least important go first): FilterL1 (mean |w| of the producer's filters) or BatchNormScale (|γ| of the batch norm after it).")]
    public ChannelImportance Importance { get; set; } = ChannelImportance.FilterL1;

    // Data-free scores cannot see that two channels carry the same signal, which a refit of the readers absorbs (issue 12:
    // without fine-tuning, the drop at 1.5x was the gap left).
    [Description("How each group's channels are ordered for removal: Importance (by the Importance score, no data) or GreedyObs (on the calibration samples: the channel whose removal, with the group's readers refitted by least squares, changes their outputs least goes first, then the next given those gone; ThiNet's criterion by OBS block updates). With GreedyObs, channel-dp measures its curves with the readers so refitted. Not with global-channels, which compares scores across groups.")]
    public ChannelOrder Order { get; set; } = ChannelOrder.Importance;

    [Description("channel-dp: keep ratios measured per group, 1/KeepLevels, 2/KeepLevels, ..., 1 (each clamped to MinKeepFraction).")]
    [Range(2, 64)]
    public int KeepLevels { get; set; } = 8;

    // Vector units work in blocks, and libtorch 2.10's oneDNN computes some 3x3 convs wrongly on our AMD CPUs unless the input
    // channels are a multiple of 16 (TorchRuntime.WrongConvolutions): 16 keeps kernels fast and right (Torch-Pruning's round_to).
    [Description("Kept channels per group are a multiple of this (or the group's full width): SIMD-friendly widths run faster, and oneDNN computes some other widths wrongly on some CPUs (the step checks and switches oneDNN off if so). 1: any width.")]
    [Range(1, 4096)]
    public int RoundTo { get; set; } = 16;

    [Description("Smallest fraction of a group's channels that is kept (at least one channel, and at least RoundTo).")]
    [Range(0.0, 1.0)]
    public double MinKeepFraction { get; set; } = 0.1;

    [Description("Channel groups kept whole: comma-separated group-name patterns, '*' matches any run of characters (e.g. 'input_transform.*').")]
    public string KeepWhole { get; set; } = "";

    [Description("channel-dp: budget steps of the dynamic programme.")]
    [Range(10, 1_000_000)]
    public int BudgetSteps { get; set; } = 2000;

    [Description("What the plan must meet: Flops (FlopsReduction, counted) or Latency (SpeedUp of the forward time measured on this run's device and thread count, at batch 1 on calibration samples).")]
    public ChannelBudget Budget { get; set; } = ChannelBudget.Flops;

    [Description("Budget=Latency: the dense model's measured forward time over the pruned model's.")]
    [Range(1.0, 1000.0)]
    public double SpeedUp { get; set; } = 2;

    [Description("channel-dp with Budget=Latency: FlopsCurve (the FLOPs allocation, its FLOPs target searched until the measured speed-up meets SpeedUp) or Table (a per-group latency table for the DP, its budget bisected on measured speed-ups).")]
    public LatencyAllocation LatencyAllocation { get; set; } = LatencyAllocation.FlopsCurve;

    [Description("Budget=Latency: calibration samples the forward pass is timed on, one at a time.")]
    [Range(1, 1000)]
    public int LatencySamples { get; set; } = 4;

    [Description("Budget=Latency: timed passes per measurement (the fastest counts: other work only adds time), dense and candidate alternately, each going first in every other pass.")]
    [Range(1, 1000)]
    public int LatencyRepeats { get; set; } = 5;

    [Description("channel-dp with LatencyAllocation=FlopsCurve: at most this many whole plans timed while searching the FLOPs target (it stops earlier once a plan is within 3 % above SpeedUp). Six left PointNet at 3.81x for a 3.3x target.")]
    [Range(1, 100)]
    public int LatencySearchSteps { get; set; } = 10;
}

public enum ChannelOrder
{
    /// <summary>By the Importance score of each channel (no data).</summary>
    Importance,

    /// <summary>Greedy on calibration data: least reconstruction error of the readers first (<see cref="GreedyChannelOrder"/>).</summary>
    GreedyObs,
}

public enum LatencyAllocation
{
    /// <summary>The FLOPs allocation's plan for a FLOPs target found by timing: the groups chosen for their distortion per FLOP.</summary>
    FlopsCurve,

    /// <summary>A per-group latency table (NetAdapt-style) as the DP's costs.</summary>
    Table,
}

public enum ChannelBudget
{
    /// <summary>FLOPs counted exactly: FlopsReduction of the dense model's.</summary>
    Flops,

    /// <summary>Forward time measured on the run's device: SpeedUp over the dense model's.</summary>
    Latency,
}

/// <summary>
/// What a channel-pruning method decides from: the groups it may shrink, their rankings, and the budget it must meet: FLOPs
/// (counted) or, when <paramref name="latency"/> is given, a speed-up measured by timing each candidate against the dense model.
/// </summary>
internal sealed class ChannelPlanning(IChannelPrunable model, IReadOnlyList<ChannelGroup> groups, double[][] importance, double minKeepFraction,
    int roundTo, InputCosts? costs, double targetFlops, IForwardTimer? latency = null, double targetSpeedUp = 1)
{
    public IForwardTimer? Latency { get; } = latency;
    public double TargetSpeedUp { get; } = targetSpeedUp;

    /// <summary>The channels each shrunk group keeps: its counts[i] most important, by group name (groups kept whole are left out).</summary>
    public Dictionary<string, long[]> Kept(long[] counts) => Groups.Select((g, i) => (g, i)).Where(p => counts[p.i] < p.g.Channels)
        .ToDictionary(p => p.g.Name, p => ChannelSurgery.MostImportant(Importance[p.i], counts[p.i]));

    /// <summary>The model with group i keeping its counts[i] most important channels.</summary>
    public IModel Build(long[] counts) => Model.WithChannels(Kept(counts));

    /// <summary>The dense model's forward time over the plan's, the two timed pass by pass, each going first in turn.</summary>
    public double MeasuredSpeedUp(long[] counts)
    {
        using var candidate = Build(counts);
        var seconds = Latency!.Seconds(Model, candidate);
        return seconds[0] / seconds[1];
    }

    /// <summary>Whether a plan meets the budget: its FLOPs counted, or its speed-up measured.</summary>
    public bool Fits(long[] counts) => Latency is null ? FlopsAt(counts) <= TargetFlops : MeasuredSpeedUp(counts) >= TargetSpeedUp;

    public IChannelPrunable Model { get; } = model;
    public IReadOnlyList<ChannelGroup> Groups { get; } = groups;

    /// <summary>With Order=GreedyObs, per group, its readers refitted at each kept count (null where the group is ranked by score).</summary>
    public IReadOnlyList<GreedyChannelOrder?>? Orders { get; init; }
    public double[][] Importance { get; } = importance;
    public InputCosts? Costs { get; } = costs;
    public double TargetFlops { get; } = targetFlops;

    /// <summary>The least each group keeps: MinKeepFraction of it rounded up to the step, at least one step, at most all.</summary>
    public long[] MinKeep { get; } = groups.Select(g => Math.Min(g.Channels,
        Math.Max(Step(g, roundTo), (long)Math.Ceiling(minKeepFraction * g.Channels / Step(g, roundTo)) * Step(g, roundTo)))).ToArray();

    /// <summary>The step a group's kept count moves by: RoundTo, or the whole group where it is narrower.</summary>
    internal static long Step(ChannelGroup group, int roundTo) => Math.Min(roundTo, group.Channels);

    /// <summary>The next allowed count above <paramref name="count"/> in group i: the next multiple of the step, or the full width.</summary>
    public long Next(int group, long count)
    {
        var step = Step(Groups[group], roundTo);
        return Math.Min((count / step + 1) * step, Groups[group].Channels);
    }

    private readonly ChannelFlops flops = new(model, groups, costs);

    /// <summary>Whole-model FLOPs if group i kept counts[i] channels.</summary>
    public double FlopsAt(long[] counts) => flops.At(counts);

    /// <summary>The allowed count nearest <paramref name="count"/> in group i: a multiple of the step within [MinKeep, full width], or the full width.</summary>
    public long Clamp(int group, double count)
    {
        var step = Step(Groups[group], roundTo);
        return Math.Clamp((long)Math.Round(count / step) * step, MinKeep[group], Groups[group].Channels);
    }

    /// <summary>
    /// The plan of the largest x in [lo, hi] whose FLOPs meet the target, for a family of plans that keeps more as x grows
    /// (bisection; the FLOPs of a plan are counted exactly, so the target holds whatever the family's shape).
    /// </summary>
    public long[] LargestWithin(Func<double, long[]> plan, double lo, double hi, string method)
    {
        var best = plan(lo);
        if (Latency is null ? FlopsAt(best) > TargetFlops * (1 + 1e-9) : !Fits(best)) throw Unreachable(best, method);
        // A latency check builds and times a model: a dozen halvings place x within 1/4096 of the range.
        var iterations = Latency is null ? 60 : 12;
        for (var it = 0; it < iterations; it++)
        {
            var mid = (lo + hi) / 2;
            var candidate = plan(mid);
            if (candidate.SequenceEqual(best)) { lo = mid; continue; }
            if (Fits(candidate)) { best = candidate; lo = mid; }
            else hi = mid;
        }
        return best;
    }

    /// <summary>Why no plan meets the target: even <paramref name="smallest"/> keeps more FLOPs.</summary>
    public InvalidOperationException Unreachable(long[] smallest, string method) => Latency is null
        ? new($"{method}: even the smallest plan keeps {FlopsAt(smallest):G4} FLOPs, above the target {TargetFlops:G4}; " +
              "lower FlopsReduction or MinKeepFraction, or shorten KeepWhole.")
        : new($"{method}: even the smallest plan runs only {MeasuredSpeedUp(smallest):F2}x faster than the dense model here, short of SpeedUp={TargetSpeedUp:G4}; " +
              "lower SpeedUp or MinKeepFraction, or shorten KeepWhole (layers that are not pruned, and the data path, bound the speed-up).");
}

/// <summary>
/// The shared half of every structured-pruning compressor: pick the groups and rank their channels, let the method choose
/// how many each keeps under the FLOPs target, then rebuild the model physically smaller (IChannelPrunable.WithChannels),
/// re-estimate batch-norm statistics and report the same metrics for every method.
/// </summary>
public abstract class ChannelPruningCompressor(ChannelPruningOptions options) : ICompressor
{
    protected ChannelPruningOptions Options { get; } = options;
    protected abstract string Method { get; }
    protected virtual bool NeedsCalibration => false;

    /// <summary>Whether the method compares channel scores of different groups (a global threshold), not only their order within a group.</summary>
    protected virtual bool ComparesAcrossGroups => false;

    private protected abstract long[] Decide(ChannelPlanning planning, CalibrationSet? calibration, PipelineContext context, StepOutcome outcome);

    /// <summary>Tests replace the wall-clock timer of the latency budget by a deterministic one.</summary>
    internal Func<PipelineContext, IModel, IForwardTimer>? TimerFactory { get; init; }

    public StepOutcome Run(PipelineContext context)
    {
        var total = Stopwatch.StartNew();
        var model = context.RequireModel(Method) as IChannelPrunable
                    ?? throw new InvalidOperationException($"Step '{Method}': model '{context.Model!.Spec.Use}' does not declare channel groups (IChannelPrunable), so its channels cannot be removed; weight pruning (hessian-dp, lamp) works on any model.");
        var keepWhole = FlopsBudget.KeepDensePattern(Options.KeepWhole);
        var groups = model.ChannelGroups.Where(g => keepWhole is null || !keepWhole.IsMatch(g.Name)).ToList();
        if (groups.Count == 0)
            throw new ArgumentException($"Step '{Method}': option KeepWhole='{Options.KeepWhole}' keeps every channel group of '{model.Spec.Use}' whole, so there is nothing to prune.");
        if (NeedsCalibration && Options.CalibrationSamples == 0)
            throw new ArgumentException($"Step '{Method}': option CalibrationSamples is 0; {Method} measures each group's distortion on calibration samples.");
        if (Options.Reconstruct && Options.CalibrationSamples == 0)
            throw new ArgumentException($"Step '{Method}': option Reconstruct=true needs calibration samples; CalibrationSamples is 0.");
        if (Options.Order == ChannelOrder.GreedyObs && Options.CalibrationSamples == 0)
            throw new ArgumentException($"Step '{Method}': option Order=GreedyObs orders channels on calibration samples; CalibrationSamples is 0.");
        if (Options.Order == ChannelOrder.GreedyObs && ComparesAcrossGroups)
            throw new ArgumentException($"Step '{Method}': option Order=GreedyObs gives an order within each group, but {Method} compares channel scores across groups; use Order=Importance.");

        var outcome = new StepOutcome();
        using var calibration = Options.CalibrationSamples > 0 ? CalibrationSet.Load(context, model, Options, Method) : null;
        var costs = Options.Costs == CostBasis.CalibrationInput ? calibration?.CostsOf(model) : null;
        var before = ModelStats.Measure(model, costs);
        var importance = groups.Select(g => ChannelSurgery.Importance(model.Module, g, Options.Importance)).ToArray();
        var orders = Options.Order == ChannelOrder.GreedyObs ? GreedyOrders(model, groups, importance, calibration, context, outcome) : null;
        using var disposeOrders = new DisposeAll(orders);
        using var latency = Options.Budget == ChannelBudget.Latency ? (TimerFactory?.Invoke(context, model) ?? new ForwardLatency(context, model, Options, Method)) : null;
        var planning = new ChannelPlanning(model, groups, importance, Options.MinKeepFraction, Options.RoundTo, costs, before.DenseFlops / Options.FlopsReduction,
            latency, Options.SpeedUp) { Orders = orders };

        var counts = Decide(planning, calibration, context, outcome);
        var kept = planning.Kept(counts);
        var pruned = model.WithChannels(kept);
        // Correct kernels before anything is measured on the smaller model (TorchRuntime.WrongConvolutions).
        var wrong = TorchRuntime.WrongConvolutions(pruned.Module);
        if (wrong.Count > 0 && TorchRuntime.OneDnnEnabled != false)
        {
            var off = TorchRuntime.SetOneDnn(false);
            outcome.Metrics["onednnSwitchedOff"] = off ? 1 : 0;
            outcome.Notes.Add($"{Method}: this CPU's oneDNN computes {wrong.Count} of the pruned model's convs wrongly in float32 " +
                              $"({string.Join(", ", wrong.Take(4).Select(w => $"{w.Name} [{string.Join("x", w.Shape)}] error {w.Error:G2}"))}); " +
                              (off ? "oneDNN is switched off for the rest of this run (right, slower kernels; latencies after this step are not comparable with those before)."
                                   : "oneDNN could not be switched off here: the pruned model's outputs are wrong. Use RoundTo 16."));
        }
        if (Options.Reconstruct)
        {
            var watch = Stopwatch.StartNew();
            outcome.Metrics["distortionMeasuredBeforeReconstruction"] = calibration!.Measure(pruned);
            var targets = ReconstructionTargets(model, groups, kept);
            var result = WeightReconstruction.RunAgainst(pruned, model, targets, calibration.Batches, Options.ReconstructionDamping, context.Services.Progress, Method,
                calibration.ForegroundCells(model, Options.ReconstructionForegroundWeight, outcome, Method));
            foreach (var t in targets.Values) t.Dispose();
            result.Report(outcome, Method, watch.Elapsed.TotalSeconds);
        }
        // Reconstruction restores the dense layer outputs that the running statistics describe: re-estimating them would undo it.
        if (Options.RecalibrateBatchNorm && calibration is not null && !Options.Reconstruct)
            outcome.Metrics["batchnormRecalibratedLayers"] = BatchNormRecalibration.Run(pruned, calibration.Batches);

        var after = ModelStats.Measure(pruned, costs);
        var m = outcome.Metrics;
        PruningCompressor<PruningOptions>.RecordFlops(m, before, after);
        if (latency is null)
        {
            m["targetFlops"] = planning.TargetFlops;
            m["budgetRelativeError"] = (after.Flops - planning.TargetFlops) / planning.TargetFlops;
        }
        else
        {
            // The budget as met: the pruned model timed against the dense one once more, alternately, after everything above.
            var seconds = latency.Seconds(model, pruned);
            m["targetSpeedUp"] = Options.SpeedUp;
            m["measuredSpeedUp"] = seconds[0] / seconds[1];
            m["latencyDenseMs"] = seconds[0] * 1e3 / latency.Samples;
            m["latencyMs"] = seconds[1] * 1e3 / latency.Samples;
            // Positive: slower than the target time (dense / SpeedUp).
            m["budgetRelativeError"] = Options.SpeedUp / m["measuredSpeedUp"] - 1;
        }
        m["paramsBefore"] = before.Params;
        m["params"] = after.Params;
        m["paramsReduction"] = (double)before.Params / after.Params;
        m["channelsBefore"] = groups.Sum(g => g.Channels);
        m["channelsAfter"] = counts.Sum();
        m["groupsShrunk"] = kept.Count;
        m["costsAtCalibrationInput"] = costs is null ? 0 : 1;
        if (calibration is not null)
        {
            m["distortionMeasured"] = calibration.Measure(pruned);
            m["calibrationSamples"] = calibration.Samples;
        }
        m["pruningSeconds"] = total.Elapsed.TotalSeconds;

        outcome.Tables.Add(new ReportTable($"{Method}: channels kept per group", ["group", "channels", "kept", "kept %"],
            groups.Select((g, i) => new[] { g.Name, g.Channels.ToString(), counts[i].ToString(), (100.0 * counts[i] / g.Channels).ToString("F1") }).ToList()));
        outcome.Series[$"{Method} kept channels per group"] = new Series("group (forward order)", "kept fraction",
            groups.Select((_, i) => (double)i).ToList(), groups.Select((g, i) => (double)counts[i] / g.Channels).ToList());
        var file = $"{Method}-widths.json";
        AtomicFile.WriteAllText(Path.Combine(context.Services.OutputDirectory, file),
            JsonSerializer.Serialize(groups.Select((g, i) => (g.Name, counts[i])).ToDictionary(p => p.Name, p => p.Item2), new JsonSerializerOptions { WriteIndented = true }));
        outcome.Files.Add(file);
        outcome.Notes.Add($"{Method}: {kept.Count} of {groups.Count} channel groups shrunk, ranked by {Options.Importance}; the model was rebuilt with the kept " +
                          $"channels ({before.Params:N0} -> {after.Params:N0} parameters), so it runs smaller kernels; FLOPs reduction {m["flopsReduction"]:F2}x " +
                          $"counted {(costs is null ? "at the model's capacity" : "at the calibration samples' mean input")}.");
        context.Logger.LogInformation("{Method}: FLOPs {Before:G4} -> {After:G4} ({Reduction:F2}x), params {P0:N0} -> {P1:N0}, in {Seconds:F1} s",
            Method, before.Flops, after.Flops, m["flopsReduction"], before.Params, after.Params, total.Elapsed.TotalSeconds);

        if (!ReferenceEquals(context.Teacher, model)) model.Dispose();
        context.Model = pruned;
        return outcome;
    }

    /// <summary>
    /// Order=GreedyObs: each group's channels ordered on the calibration samples (<see cref="GreedyChannelOrder"/>), its
    /// removal step written into <paramref name="importance"/>; the readers' refits kept at every count a plan can choose
    /// (the multiples of the group's step). A group whose readers cannot be refitted keeps its score order, and a note says so.
    /// </summary>
    private GreedyChannelOrder?[] GreedyOrders(IChannelPrunable model, IReadOnlyList<ChannelGroup> groups, double[][] importance,
        CalibrationSet? calibration, PipelineContext context, StepOutcome outcome)
    {
        var watch = Stopwatch.StartNew();
        var cells = calibration!.ForegroundCells(model, Options.ReconstructionForegroundWeight, outcome, Method);
        var orders = new GreedyChannelOrder?[groups.Count];
        var scored = new List<string>();
        using (var progress = context.Services.Progress.Start($"{Method}: ordering channels on the calibration samples (greedy OBS)", groups.Count))
        {
            for (var i = 0; i < groups.Count; i++)
            {
                var step = ChannelPlanning.Step(groups[i], Options.RoundTo);
                var counts = Enumerable.Range(1, (int)(groups[i].Channels / step)).Select(k => k * step).ToArray();
                var order = GreedyChannelOrder.Compute(model, groups[i], calibration.Batches, Options.ReconstructionDamping, cells, counts);
                if (order.Unsupported is { } why)
                {
                    scored.Add($"{groups[i].Name} ({why})");
                    order.Dispose();
                }
                else
                {
                    importance[i] = order.Importance;
                    orders[i] = order;
                }
                progress.Advance(1, groups[i].Name);
            }
        }
        outcome.Metrics["orderSeconds"] = watch.Elapsed.TotalSeconds;
        outcome.Metrics["groupsOrderedOnData"] = orders.Count(o => o is not null);
        if (scored.Count > 0)
            outcome.Notes.Add($"{Method}: Order=GreedyObs could not order {scored.Count} group(s) on data, which keep the {Options.Importance} order: {string.Join("; ", scored)}.");
        return orders;
    }

    /// <summary>Disposes what it holds at the end of a using block (the greedy orders' refits).</summary>
    private readonly struct DisposeAll(IEnumerable<IDisposable?>? items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items ?? []) item?.Dispose();
        }
    }

    /// <summary>
    /// The weights reconstruction imitates: every layer that reads removed channels, with its dense weight cut to the output
    /// channels it keeps (it may head a shrunk group itself), keyed by layer name.
    /// </summary>
    private static Dictionary<string, TorchSharp.torch.Tensor> ReconstructionTargets(IModel dense, IReadOnlyList<ChannelGroup> groups, IReadOnlyDictionary<string, long[]> kept)
    {
        var weights = dense.PrunableLayers.ToDictionary(l => l.Name + ".weight", l => l);
        var targets = new Dictionary<string, TorchSharp.torch.Tensor>();
        foreach (var reader in groups.Where(g => kept.ContainsKey(g.Name)).SelectMany(g => g.Consumers))
        {
            if (!weights.TryGetValue(reader.Tensor, out var layer) || targets.ContainsKey(layer.Name)) continue;
            var weight = layer.Weight.detach().clone();
            foreach (var group in groups.Where(g => kept.ContainsKey(g.Name)))
                foreach (var output in group.Producers.Where(m => m.Tensor == reader.Tensor))
                {
                    using var index = TorchSharp.torch.tensor(kept[group.Name].Select(c => c + output.Offset).ToArray(), device: weight.device);
                    var cut = weight.index_select(output.Dim, index);
                    weight.Dispose();
                    weight = cut;
                }
            targets[layer.Name] = weight;
        }
        return targets;
    }
}

/// <summary>Baseline: one width multiplier for every group (the kept fraction that meets the target).</summary>
public sealed class UniformChannelsCompressor(ChannelPruningOptions options) : ChannelPruningCompressor(options)
{
    protected override string Method => "uniform-channels";

    private protected override long[] Decide(ChannelPlanning planning, CalibrationSet? calibration, PipelineContext context, StepOutcome outcome) =>
        planning.LargestWithin(f => planning.Groups.Select((g, i) => planning.Clamp(i, g.Channels * f)).ToArray(), 0, 1, Method);
}

/// <summary>
/// Baseline: global filter pruning (Li et al., ICLR 2017, "Pruning Filters for Efficient ConvNets", with one threshold over all
/// groups instead of per-layer sensitivity): the channels of lowest importance anywhere go first.
/// </summary>
public sealed class GlobalChannelsCompressor(ChannelPruningOptions options) : ChannelPruningCompressor(options)
{
    protected override string Method => "global-channels";
    protected override bool ComparesAcrossGroups => true;

    private protected override long[] Decide(ChannelPlanning planning, CalibrationSet? calibration, PipelineContext context, StepOutcome outcome)
    {
        var all = planning.Importance.SelectMany(v => v).Order().ToArray();
        // x in [0, 1]: keep every channel whose importance is at or above the (1 − x) quantile.
        long[] Plan(double x)
        {
            var threshold = x >= 1 ? double.NegativeInfinity : all[(int)Math.Floor((1 - x) * (all.Length - 1))];
            return planning.Importance.Select((v, i) => planning.Clamp(i, v.Count(c => c >= threshold))).ToArray();
        }
        return planning.LargestWithin(Plan, 0, 1, Method);
    }
}

/// <summary>
/// DM3D's rate-distortion allocation applied to channels (the journal extension, "Efficient Distortion-Minimized Layerwise
/// Pruning", TPAMI 2025): for each group and each keep ratio, the group alone is cut (its readers' columns zeroed, which is
/// what removal does), the calibration set run, the output distortion recorded; then the exact DP over FLOPs. A layer whose
/// input and output both shrink costs the product of the two ratios, which a sum over groups cannot express: the DP reads
/// costs linearised at a plan (<see cref="Allocate"/>) and a fill spends what is left, every plan's FLOPs counted exactly.
/// </summary>
public sealed class ChannelDPCompressor(ChannelPruningOptions options) : ChannelPruningCompressor(options)
{
    protected override string Method => "channel-dp";
    protected override bool NeedsCalibration => true;

    private protected override long[] Decide(ChannelPlanning planning, CalibrationSet? calibration, PipelineContext context, StepOutcome outcome)
    {
        var watch = Stopwatch.StartNew();
        var groups = planning.Groups;
        var levels = groups.Select((g, i) => Enumerable.Range(1, Options.KeepLevels).Select(j => planning.Clamp(i, (double)g.Channels * j / Options.KeepLevels))
            .Distinct().Order().ToArray()).ToArray();
        var distortion = new double[groups.Count][];
        var module = planning.Model.Module;
        using (var progress = context.Services.Progress.Start($"{Method}: measured curves (one channel group cut alone)", levels.Sum(l => l.Length - 1L)))
        {
            for (var i = 0; i < groups.Count; i++)
            {
                distortion[i] = new double[levels[i].Length];
                // Cutting a group changes only its members' tensors: the stages before the first that reads one run once, here.
                using var start = calibration!.StartAt(planning.Model, groups[i].Members.Select(m => ModuleOf(m.Tensor)));
                for (var j = 0; j < levels[i].Length; j++)
                {
                    if (levels[i][j] == groups[i].Channels) continue; // the group whole: the dense outputs, distortion 0
                    var zeroed = ChannelSurgery.ZeroRemoved(module, groups[i], ChannelSurgery.MostImportant(planning.Importance[i], levels[i][j]));
                    // Ordered on data: the readers as the greedy order refitted them for this many channels.
                    var swapped = planning.Orders?[i]?.Refits.GetValueOrDefault(levels[i][j]) is { } refits ? Swap(refits) : null;
                    try
                    {
                        distortion[i][j] = start.Measure();
                    }
                    finally
                    {
                        Unswap(swapped);
                        ChannelSurgery.Restore(zeroed);
                    }
                    progress.Advance(1);
                }
                // Monotone in what is removed: keeping more channels never counts as worse (a running maximum from the top).
                for (var j = levels[i].Length - 2; j >= 0; j--) distortion[i][j] = Math.Max(distortion[i][j], distortion[i][j + 1]);
            }
        }
        outcome.Metrics["curveSeconds"] = watch.Elapsed.TotalSeconds;

        watch.Restart();
        var (counts, predicted) = planning.Latency is null ? Allocate(planning, levels, distortion)
            : Options.LatencyAllocation == LatencyAllocation.Table ? AllocateLatency(planning, levels, distortion, context, outcome)
            : AllocateForSpeedUp(planning, levels, distortion, context, outcome);
        outcome.Metrics["allocationSeconds"] = watch.Elapsed.TotalSeconds;
        outcome.Metrics["distortionPredicted"] = predicted;
        return counts;
    }

    /// <summary>Writes each refit into its weight and returns the weights it replaced (swapping those back restores them).</summary>
    private static List<(TorchSharp.Modules.Parameter Weight, TorchSharp.torch.Tensor Refit)> Swap(IEnumerable<(TorchSharp.Modules.Parameter Weight, TorchSharp.torch.Tensor Refit)> refits)
    {
        using var _ = TorchSharp.torch.no_grad();
        var replaced = new List<(TorchSharp.Modules.Parameter, TorchSharp.torch.Tensor)>();
        foreach (var (weight, refit) in refits)
        {
            replaced.Add((weight, weight.detach().clone()));
            weight.copy_(refit);
        }
        return replaced;
    }

    private static void Unswap(List<(TorchSharp.Modules.Parameter Weight, TorchSharp.torch.Tensor Saved)>? replaced)
    {
        using var _ = TorchSharp.torch.no_grad();
        foreach (var (weight, saved) in replaced ?? [])
        {
            weight.copy_(saved);
            saved.Dispose();
        }
    }

    /// <summary>The module a state-dict tensor belongs to ("backbone.blocks.0.1.running_mean" to "backbone.blocks.0.1").</summary>
    private static string ModuleOf(string tensor) => tensor[..Math.Max(0, tensor.LastIndexOf('.'))];

    /// <summary>
    /// The exact DP on costs linearised at a plan (full width first): a layer's FLOPs F·r_in·r_out are shared half and half
    /// between the groups on its two sides, each side's share scaled by the other side's ratio in that plan. The DP is solved
    /// over a grid of budgets; of the plans whose exactly counted FLOPs meet the target, the one of least summed distortion is
    /// kept and the costs are linearised again there (a few rounds: the product's error shrinks as the plan settles).
    /// </summary>
    private (long[] Counts, double Distortion) Allocate(ChannelPlanning planning, long[][] levels, double[][] distortion, double? targetFlops = null)
    {
        var target = targetFlops ?? planning.TargetFlops;
        var groups = planning.Groups;
        var at = groups.Select(g => g.Channels).ToArray();
        long[]? best = null;
        var bestDistortion = double.PositiveInfinity;
        double Summed(long[] counts) => AtLevels(levels, distortion, counts);
        for (var round = 0; round < 3; round++)
        {
            var shares = LinearisedShares(planning, at);
            var curves = groups.Select((g, i) => new LayerLevels(levels[i].Select(k => shares[i] * k / g.Channels).ToArray(), distortion[i])).ToList();
            var floor = curves.Sum(c => c.Flops.Min());
            var top = curves.Sum(c => c.Flops.Max());
            var feasible = false;
            for (var step = 0; step <= 100; step++)
            {
                var choice = SparsityAllocation.DynamicProgramming(curves, floor + step / 100.0 * (top - floor), Options.BudgetSteps);
                var counts = choice.Select((c, i) => levels[i][c]).ToArray();
                if (planning.FlopsAt(counts) > target) continue;
                var d = Summed(counts);
                if (d < bestDistortion || (d == bestDistortion && best is not null && planning.FlopsAt(counts) > planning.FlopsAt(best)))
                    (best, bestDistortion) = (counts, d);
                feasible = true;
            }
            if (!feasible) break;
            at = best!;
        }
        if (best is null) throw planning.Unreachable(groups.Select((_, i) => levels[i][0]).ToArray(), Method);
        var predicted = Summed(best);
        FillBudget(planning, levels, distortion, best, target);
        return (best, predicted);
    }

    /// <summary>
    /// The FLOPs allocation, its FLOPs target searched by timing whole plans: a step assumes the speed-up grows as a power of
    /// the FLOPs reduction, the exponent taken from the last two timed plans (1 at first), and stays within the bracket of
    /// plans timed fast enough and too slow. The plan of the largest target timed fast enough is kept. On CenterPoint the
    /// per-group latency table (<see cref="LatencyAllocation.Table"/>) chose plans that met the time and lost the detector.
    /// </summary>
    private (long[] Counts, double Distortion) AllocateForSpeedUp(ChannelPlanning planning, long[][] levels, double[][] distortion, PipelineContext context, StepOutcome outcome)
    {
        var dense = planning.FlopsAt(planning.Groups.Select(g => g.Channels).ToArray());
        var smallest = planning.Groups.Select((_, i) => levels[i][0]).ToArray();
        var least = planning.FlopsAt(smallest) / dense;
        double lo = least, hi = 1;   // FLOPs fractions: lo is fast enough (assumed until timed), hi too slow
        var fraction = Math.Clamp(1 / planning.TargetSpeedUp, least, 1);
        (long[] Counts, double Distortion, double Fraction)? best = null;
        (double Fraction, double SpeedUp)? previous = null;
        var allocations = 0;
        for (var step = 0; step < Options.LatencySearchSteps; step++)
        {
            var (counts, predicted) = Allocate(planning, levels, distortion, fraction * dense);
            allocations++;
            var speedUp = planning.MeasuredSpeedUp(counts);
            context.Logger.LogInformation("{Method}: FLOPs target {Fraction:P1} of dense: measured speed-up {SpeedUp:F2}x (target {Target:F2}x)",
                Method, fraction, speedUp, planning.TargetSpeedUp);
            if (speedUp >= planning.TargetSpeedUp)
            {
                if (best is null || fraction > best.Value.Fraction) best = (counts, predicted, fraction);
                lo = Math.Max(lo, fraction);
                if (speedUp <= planning.TargetSpeedUp * 1.03) break;   // close enough: more pruning would only cost accuracy
            }
            else
            {
                hi = Math.Min(hi, fraction);
            }
            // speed-up ~ fraction^-a: a from the last two timings.
            var exponent = previous is { } p && Math.Abs(Math.Log(p.Fraction / fraction)) > 1e-6
                ? Math.Clamp(Math.Log(speedUp / p.SpeedUp) / Math.Log(p.Fraction / fraction), 0.2, 3) : 1;
            previous = (fraction, speedUp);
            var next = fraction * Math.Pow(speedUp / planning.TargetSpeedUp, 1 / exponent);
            fraction = next > lo && next < hi ? next : (lo + hi) / 2;
            if (hi - lo < 0.005) break;
        }
        outcome.Metrics["latencyAllocations"] = allocations;
        if (best is null)
        {
            if (!planning.Fits(smallest)) throw planning.Unreachable(smallest, Method);
            best = (smallest, AtLevels(levels, distortion, smallest), least);
        }
        outcome.Metrics["latencyFlopsFraction"] = best.Value.Fraction;
        return (best.Value.Counts, best.Value.Distortion);
    }

    /// <summary>
    /// The DP on measured latency (NetAdapt's per-layer lookup, made per group): each group cut alone to each level is
    /// timed against the dense model, giving its change of the relative forward time; the DP takes those changes as
    /// additive costs. Timings do not add (kernels overlap, memory traffic is shared; on a busy machine the single-group
    /// savings summed to 38 % where the plan saved 11 %), so the DP's budget is then set by timing whole plans.
    /// </summary>
    private (long[] Counts, double Distortion) AllocateLatency(ChannelPlanning planning, long[][] levels, double[][] distortion, PipelineContext context, StepOutcome outcome)
    {
        var groups = planning.Groups;
        var watch = Stopwatch.StartNew();
        var change = new double[groups.Count][];
        using (var progress = context.Services.Progress.Start($"{Method}: latency table (one channel group cut alone, timed against the dense model)", levels.Sum(l => l.Length - 1L)))
        {
            for (var i = 0; i < groups.Count; i++)
            {
                change[i] = new double[levels[i].Length];
                for (var j = 0; j < levels[i].Length; j++)
                {
                    if (levels[i][j] == groups[i].Channels) continue;
                    var counts = groups.Select(g => g.Channels).ToArray();
                    counts[i] = levels[i][j];
                    change[i][j] = 1 / planning.MeasuredSpeedUp(counts) - 1;
                    progress.Advance(1);
                }
                // Keeping more channels is never faster: a running minimum from the top irons out timing noise.
                for (var j = levels[i].Length - 2; j >= 0; j--) change[i][j] = Math.Min(change[i][j], change[i][j + 1]);
            }
        }
        outcome.Metrics["latencyTableSeconds"] = watch.Elapsed.TotalSeconds;

        double Summed(long[] counts) => AtLevels(levels, distortion, counts);
        double Predicted(long[] counts) => 1 + AtLevels(levels, change, counts);
        var lowest = change.Select(c => c.Min()).ToArray();
        var curves = groups.Select((_, i) => new LayerLevels(change[i].Select(c => c - lowest[i]).ToArray(), distortion[i])).ToList();
        var span = curves.Sum(c => c.Flops.Max());
        // The table decides which groups give time first; the measured forward time decides how far: a bisection over the
        // DP's budget (x = 0: the smallest plan, x = 1: dense) keeps the plan with the largest budget whose measured speed-up
        // meets the target. Summed single-group savings overstate what the groups save together (and timing noise biases
        // them further), so the DP's own prediction is reported, not trusted.
        var timings = 0;
        long[] Plan(double x)
        {
            timings++;
            return SparsityAllocation.DynamicProgramming(curves, x * span, Options.BudgetSteps).Select((c, i) => levels[i][c]).ToArray();
        }
        var best = planning.LargestWithin(Plan, 0, 1, Method);
        outcome.Metrics["latencyBisectionSteps"] = timings;
        outcome.Metrics["latencyPredictedRelative"] = Predicted(best);
        return (best, Summed(best));
    }

    /// <summary>The sum over groups of a per-level curve (distortion, latency change) at the plan's levels.</summary>
    private static double AtLevels(long[][] levels, double[][] curve, long[] counts) =>
        counts.Select((k, i) => curve[i][Array.IndexOf(levels[i], k)]).Sum();

    /// <summary>
    /// Spends what the plan leaves of the target (the DP works on levels and on linearised costs, not the exact ones): one
    /// step of channels (RoundTo) at a time goes back to a group, where it lowers the distortion (linear between measured levels) most per exactly
    /// counted FLOP, while the target holds.
    /// </summary>
    private static void FillBudget(ChannelPlanning planning, long[][] levels, double[][] distortion, long[] plan, double target)
    {
        double At(int i, long k)
        {
            var j = Array.BinarySearch(levels[i], k);
            if (j >= 0) return distortion[i][j];
            j = ~j;   // levels[i][j - 1] < k < levels[i][j]
            var (k0, k1) = (levels[i][j - 1], levels[i][j]);
            return distortion[i][j - 1] + (distortion[i][j] - distortion[i][j - 1]) * (k - k0) / (k1 - k0);
        }
        while (true)
        {
            var now = planning.FlopsAt(plan);
            int bestGroup = -1;
            double bestGain = double.NegativeInfinity, bestCost = double.PositiveInfinity;
            for (var i = 0; i < plan.Length; i++)
            {
                if (plan[i] >= planning.Groups[i].Channels) continue;
                var (old, next) = (plan[i], planning.Next(i, plan[i]));
                plan[i] = next;
                var cost = planning.FlopsAt(plan) - now;
                plan[i] = old;
                if (now + cost > target) continue;
                var gain = (At(i, old) - At(i, next)) / Math.Max(cost, 1e-12);
                if (gain > bestGain || (gain == bestGain && cost < bestCost)) (bestGroup, bestGain, bestCost) = (i, gain, cost);
            }
            if (bestGroup < 0) return;
            plan[bestGroup] = planning.Next(bestGroup, plan[bestGroup]);
        }
    }

    /// <summary>
    /// Each group's FLOPs at full width of its own channels, with every other group at <paramref name="at"/>: each prunable
    /// layer's FLOPs split evenly between its output side and its input side where both have groups, within a side by the
    /// groups' channel counts, and scaled by the other side's kept ratio.
    /// </summary>
    private static double[] LinearisedShares(ChannelPlanning planning, long[] at)
    {
        var shares = new double[planning.Groups.Count];
        foreach (var layer in planning.Model.PrunableLayers)
        {
            var flops = ModelStats.LayerFlops(layer, layer.Weight.count_nonzero().item<long>(), planning.Costs);
            var weight = layer.Name + ".weight";
            var sides = new[] { ChannelRole.Producer, ChannelRole.Consumer }.Select(role => planning.Groups
                    .Select((g, i) => (Index: i, Member: g.Members.FirstOrDefault(m => m.Tensor == weight && m.Role == role), g.Channels))
                    .Where(p => p.Member is not null).ToList())
                .Where(side => side.Count > 0).ToList();
            // The kept ratio of each side's whole dimension at the plan (ungrouped channels count as kept).
            var ratios = sides.Select(side =>
            {
                var size = (double)layer.Weight.shape[side[0].Member!.Dim];
                return (size - side.Sum(p => p.Channels - at[p.Index])) / size;
            }).ToArray();
            for (var s = 0; s < sides.Count; s++)
            {
                var other = sides.Count == 2 ? ratios[1 - s] : 1.0;
                var size = layer.Weight.shape[sides[s][0].Member!.Dim];
                foreach (var (index, _, channels) in sides[s])
                    shares[index] += flops / sides.Count * channels / size * other;
            }
        }
        return shares;
    }
}
