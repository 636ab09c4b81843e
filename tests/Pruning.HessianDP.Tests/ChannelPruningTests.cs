using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Models.PointNet;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>The structured compressors (channel-dp and its baselines) on a real PointNet of the platform.</summary>
public class ChannelPruningTests
{
    private static readonly DatasetInfo FourClasses = new("synthetic", ModelTask.Classification, ["a", "b", "c", "d"], 3);

    /// <summary>A small untrained PointNet of the platform (width 0.25, no T-Nets): channel groups 16 to 256 wide.</summary>
    internal static PointNetModel PointNet() =>
        new(new PointNetOptions { WidthMultiplier = 0.25, NumPoints = TinyPointModel.Points, InputTransform = false, FeatureTransform = false }, FourClasses);

    private static ICompressor Create(string method, double reduction, Action<ChannelPruningOptions>? configure = null)
    {
        // RoundTo 1: this PointNet's groups are 16 to 256 wide, too narrow for the default step of 16 to show the allocation.
        var options = new ChannelPruningOptions { FlopsReduction = reduction, CalibrationSamples = 16, RoundTo = 1 };
        configure?.Invoke(options);
        return method switch
        {
            "channel-dp" => new ChannelDPCompressor(options),
            "uniform-channels" => new UniformChannelsCompressor(options),
            "global-channels" => new GlobalChannelsCompressor(options),
            _ => throw new ArgumentException(method),
        };
    }

    [Test]
    public void Every_method_rebuilds_a_smaller_model_within_the_flops_target(
        [Values("channel-dp", "uniform-channels", "global-channels")] string method, [Values(1.5, 3.0)] double reduction)
    {
        Seeding.Seed(2);
        var model = PointNet();
        var dense = ModelStats.Measure(model);
        var context = TestPipeline.Context(model);
        var outcome = Create(method, reduction).Run(context);

        Assert.That(context.Model, Is.Not.SameAs(model), "the compressor replaces the model by its rebuild");
        using var pruned = context.Model!;
        var after = ModelStats.Measure(pruned);
        var target = dense.DenseFlops / reduction;
        Assert.That(after.Flops, Is.LessThanOrEqualTo(target * (1 + 1e-9)), $"{method}: {after.Flops} FLOPs for a target of {target}");
        Assert.That(after.Flops, Is.GreaterThan(target * 0.8), $"{method} spends most of its budget");
        Assert.That(after.Params, Is.LessThan(dense.Params));
        Assert.That(pruned.Masks.Count, Is.Zero, "channels are removed, not masked");
        Assert.That(outcome.Metrics["flopsReduction"], Is.EqualTo(dense.DenseFlops / after.Flops).Within(1e-9));
        Assert.That(outcome.Metrics["params"], Is.EqualTo(after.Params));
    }

    [Test]
    public void Channel_dp_removes_dead_channels_first_and_so_changes_no_output()
    {
        // Half of mlp5's channels are dead: zero filters (least important) and zero columns in fc1 (no reader), so removing them
        // costs no distortion at all, and a FLOPs target that removing them meets needs nothing else.
        Seeding.Seed(3);
        var model = PointNet();
        var mlp5 = model.ChannelGroups.First(g => g.Name == "mlp5");
        var dead = Enumerable.Range(0, (int)mlp5.Channels).Where(c => c % 2 == 1).Select(c => (long)c).ToArray();
        var state = model.Module.state_dict();
        using (no_grad())
        using (var index = tensor(dead))
        {
            state["mlp5.conv.weight"].index_fill_(0, index, 0);
            state["fc1.linear.weight"].index_fill_(1, index, 0);
        }
        var full = ModelStats.Measure(model).DenseFlops;
        var withoutDead = ChannelSurgery.Flops(model, model.ChannelGroups, new Dictionary<string, long> { ["mlp5"] = mlp5.Channels - dead.Length });
        var reduction = full / withoutDead * 0.999;   // a hair less than removing them gives

        var dp = Create("channel-dp", reduction, o => o.RecalibrateBatchNorm = false).Run(TestPipeline.Context(model));
        Assert.That(dp.Metrics["distortionMeasured"], Is.EqualTo(0).Within(1e-10));

        Seeding.Seed(3);
        var uniform = Create("uniform-channels", reduction, o => o.RecalibrateBatchNorm = false).Run(TestPipeline.Context(PointNet()));
        Assert.That(uniform.Metrics["distortionMeasured"], Is.GreaterThan(1e-8), "cutting every group alike does change the outputs");
    }

    [Test]
    public void Reconstruction_of_the_readers_lowers_the_distortion_of_the_cut()
    {
        Seeding.Seed(4);
        var outcome = Create("uniform-channels", 2.0, o => { o.Reconstruct = true; o.CalibrationSamples = 32; }).Run(TestPipeline.Context(PointNet()));
        Assert.That(outcome.Metrics["reconstructedLayers"], Is.GreaterThan(0));
        Assert.That(outcome.Metrics["distortionMeasured"], Is.LessThan(0.5 * outcome.Metrics["distortionMeasuredBeforeReconstruction"]));
    }

    [Test]
    public void A_model_without_channel_groups_is_refused_with_a_message_that_says_what_works()
    {
        using var model = new TinyPointModel();
        var error = Assert.Throws<InvalidOperationException>(() => Create("channel-dp", 2).Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("tiny-point").And.Contain("IChannelPrunable").And.Contain("hessian-dp"));
    }

    [Test]
    public void Groups_kept_whole_keep_their_width()
    {
        Seeding.Seed(5);
        var context = TestPipeline.Context(PointNet());
        Create("uniform-channels", 1.5, o => o.KeepWhole = "mlp5,fc*").Run(context);
        using var pruned = (PointNetModel)context.Model!;
        Assert.That(pruned.Options.ChannelWidths.Keys, Has.None.Matches<string>(k => k == "mlp5" || k.StartsWith("fc", StringComparison.Ordinal)));
        Assert.That(pruned.Options.ChannelWidths, Is.Not.Empty);
    }

    [Test]
    public void Kept_widths_are_multiples_of_the_step_or_the_whole_group([Values("channel-dp", "uniform-channels", "global-channels")] string method)
    {
        Seeding.Seed(6);
        var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 1.0, NumPoints = TinyPointModel.Points, InputTransform = false, FeatureTransform = false }, FourClasses);
        var groups = model.ChannelGroups.ToDictionary(g => g.Name, g => g.Channels);
        var context = TestPipeline.Context(model);
        Create(method, 3.0, o => { o.RoundTo = 16; o.CalibrationSamples = 8; }).Run(context);
        using var pruned = (PointNetModel)context.Model!;
        Assert.That(pruned.Options.ChannelWidths, Is.Not.Empty);
        foreach (var (group, width) in pruned.Options.ChannelWidths)
            Assert.That(width % 16 == 0 || width == groups[group], $"{group}: {width} of {groups[group]}");
    }

    /// <summary>
    /// A deterministic stand-in for the wall clock: time proportional to the counted FLOPs plus a fixed part that pruning
    /// cannot touch (the data path), so speed-ups are bounded and group cuts do not add up exactly (a layer's FLOPs are a
    /// product of its two sides' widths), as with real timings.
    /// </summary>
    private sealed class FlopsTimer(double fixedFlops) : IForwardTimer
    {
        public int Samples => 1;
        public int Calls { get; private set; }

        public double[] Seconds(params IModel[] models)
        {
            Calls++;
            return models.Select(m => (ModelStats.Measure(m).Flops + fixedFlops) * 1e-9).ToArray();
        }

        public void Dispose()
        {
        }
    }

    private static ChannelPruningCompressor CreateTimed(string method, double speedUp, FlopsTimer timer)
    {
        var options = new ChannelPruningOptions { Budget = ChannelBudget.Latency, SpeedUp = speedUp, CalibrationSamples = 16, RoundTo = 1 };
        Func<PipelineContext, IModel, IForwardTimer> factory = (_, _) => timer;
        return method switch
        {
            "channel-dp" => new ChannelDPCompressor(options) { TimerFactory = factory },
            "uniform-channels" => new UniformChannelsCompressor(options) { TimerFactory = factory },
            _ => new GlobalChannelsCompressor(options) { TimerFactory = factory },
        };
    }

    [Test]
    public void A_latency_budget_is_met_within_ten_percent_by_every_method([Values("channel-dp", "uniform-channels", "global-channels")] string method)
    {
        Seeding.Seed(7);
        var model = PointNet();
        var timer = new FlopsTimer(0.2 * ModelStats.Measure(model).DenseFlops);
        var outcome = CreateTimed(method, 2.0, timer).Run(TestPipeline.Context(model));

        Assert.That(outcome.Metrics["targetSpeedUp"], Is.EqualTo(2.0));
        Assert.That(Math.Abs(outcome.Metrics["budgetRelativeError"]), Is.LessThanOrEqualTo(0.10), $"{method}: measured {outcome.Metrics["measuredSpeedUp"]:F3}x");
        Assert.That(outcome.Metrics["measuredSpeedUp"], Is.GreaterThan(1.8));
        Assert.That(timer.Calls, Is.GreaterThan(1), "candidates are timed, not counted");
        Assert.That(outcome.Metrics["measuredSpeedUp"], Is.GreaterThanOrEqualTo(2.0), "a bisection on measured time keeps only plans that meet it");
        if (method == "channel-dp") Assert.That(outcome.Metrics["latencyAllocations"], Is.InRange(1, new ChannelPruningOptions().LatencySearchSteps));
    }

    [Test]
    public void Channel_dp_with_a_latency_table_also_meets_the_budget_by_timing_whole_plans()
    {
        Seeding.Seed(9);
        var model = PointNet();
        var timer = new FlopsTimer(0.2 * ModelStats.Measure(model).DenseFlops);
        var options = new ChannelPruningOptions { Budget = ChannelBudget.Latency, LatencyAllocation = LatencyAllocation.Table, SpeedUp = 2, CalibrationSamples = 16, RoundTo = 1 };
        var outcome = new ChannelDPCompressor(options) { TimerFactory = (_, _) => timer }.Run(TestPipeline.Context(model));

        Assert.That(outcome.Metrics["measuredSpeedUp"], Is.GreaterThanOrEqualTo(2.0));
        Assert.That(outcome.Metrics["budgetRelativeError"], Is.GreaterThanOrEqualTo(-0.10));
        Assert.That(outcome.Metrics["latencyBisectionSteps"], Is.GreaterThan(1));
    }

    [Test]
    public void A_latency_budget_beyond_what_pruning_can_reach_is_refused_with_the_speed_up_it_can_reach()
    {
        Seeding.Seed(8);
        var model = PointNet();
        // Half of the time is outside the prunable layers: no plan runs even 2x faster.
        var timer = new FlopsTimer(1.0 * ModelStats.Measure(model).DenseFlops);
        var error = Assert.Throws<InvalidOperationException>(() => CreateTimed("uniform-channels", 3.0, timer).Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("SpeedUp=3").And.Contain("faster than the dense model"));
    }
}
