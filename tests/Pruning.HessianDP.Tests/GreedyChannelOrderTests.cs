using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.PointNet;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>Order=GreedyObs: channels ordered by the readers' reconstruction error, checked against least squares solved directly.</summary>
public class GreedyChannelOrderTests
{
    private static PointNetModel PointNet() => ChannelPruningTests.PointNet();

    private static readonly ChannelPruningOptions Options = new() { CalibrationSamples = 16, RoundTo = 1 };

    /// <summary>mlp4's group (read by mlp5's 1x1 conv) ordered on the calibration set, with refits at every count.</summary>
    private static (GreedyChannelOrder Order, ChannelGroup Group, CalibrationSet Calibration) Ordered(PointNetModel model)
    {
        var group = model.ChannelGroups.First(g => g.Name == "mlp4");
        var calibration = CalibrationSet.Load(TestPipeline.Context(model), model, Options, "test");
        var counts = Enumerable.Range(1, (int)group.Channels - 1).Select(k => (long)k).ToArray();
        return (GreedyChannelOrder.Compute(model, group, calibration.Batches, Options.ReconstructionDamping, null, counts), group, calibration);
    }

    [Test]
    public void The_first_channel_removed_is_the_one_whose_least_squares_refit_leaves_the_least_error_and_the_refit_is_that_solution()
    {
        Seeding.Seed(5);
        using var model = PointNet();
        var (order, group, calibration) = Ordered(model);
        using var _ = order;
        using var __ = calibration;
        Assert.That(order.Unsupported, Is.Null);

        // Directly: for each channel c, W' = argmin tr((W − W')H(W − W')ᵀ) with column c zero is W'_S = W H_:S H_SS⁻¹.
        var reader = model.PrunableLayers.First(l => l.Name == "mlp5.conv");
        using var refit = WeightReconstruction.LayerAloneRefit(model, reader, calibration.Batches, Options.ReconstructionDamping)!;
        var h = refit.H;
        var w = reader.Weight.detach().to_type(ScalarType.Float64).reshape(reader.Weight.shape[0], -1);
        var channels = (int)group.Channels;
        var errors = new double[channels];
        var solutions = new Tensor[channels];
        for (var c = 0; c < channels; c++)
        {
            var s = tensor(Enumerable.Range(0, channels).Where(i => i != c).Select(i => (long)i).ToArray());
            var ws = linalg.solve(h.index_select(0, s).index_select(1, s), w.matmul(h.index_select(1, s)).t()).t();   // H_SS symmetric
            var full = zeros_like(w);
            full.index_copy_(1, s, ws);
            var diff = w - full;
            errors[c] = diff.matmul(h).mul(diff).sum().item<double>();
            solutions[c] = full;
        }
        var best = Array.IndexOf(errors, errors.Min());
        var first = Array.IndexOf(order.Importance, 0.0);
        Assert.That(first, Is.EqualTo(best), $"errors by channel: {string.Join(", ", errors.Select(e => e.ToString("G3")))}");

        var kept = order.Refits[channels - 1].Single(r => ReferenceEquals(r.Weight, reader.Weight)).Refit;
        var refitted = kept.to_type(ScalarType.Float64).reshape(w.shape);
        Assert.That((refitted - solutions[best]).abs().max().item<double>(), Is.LessThan(1e-4 * w.abs().max().item<double>()));
        Assert.That(refitted[.., best].abs().max().item<double>(), Is.EqualTo(0), "the removed channel's column is exactly zero");
    }

    [Test]
    public void A_channel_that_copies_another_goes_early_at_no_cost_although_its_filter_is_the_largest()
    {
        Seeding.Seed(6);
        using var model = PointNet();
        var group = model.ChannelGroups.First(g => g.Name == "mlp4");
        var state = model.Module.state_dict();
        // Channel 3 carries channel 0's signal: the same filter, bias and batch norm. Its filter is the largest, so a score
        // on filters keeps it; the readers' refit can take it over entirely.
        using (no_grad())
        {
            foreach (var member in group.Members.Where(m => m.Role != ChannelRole.Consumer))
            {
                var t = state[member.Tensor];
                if (member.Tensor.EndsWith("conv.weight", StringComparison.Ordinal)) t.select(member.Dim, 0).mul_(5);
                t.select(member.Dim, 3).copy_(t.select(member.Dim, 0));
            }
        }
        var (order, _, calibration) = Ordered(model);
        using var o = order;
        using var c = calibration;
        var scores = ChannelSurgery.Importance(model.Module, group, ChannelImportance.FilterL1);
        Assert.That(ChannelSurgery.MostImportant(scores, 2), Is.EquivalentTo(new long[] { 0, 3 }), "by filter norm the copies are the two most important");

        // Channels that never pass the ReLU on these samples cost nothing either and may go before it; everything removed
        // up to the first copy must then leave the outputs as they were.
        var step = Math.Min(order.Importance[0], order.Importance[3]);
        var count = group.Channels - (long)step - 1;
        TestContext.Out.WriteLine($"first copy removed at step {step} of {group.Channels}");
        Assert.That(step, Is.LessThan(group.Channels / 2), "a copy goes early");

        model.Module.eval();
        using var _ = no_grad();
        var batch = calibration.Batches[0];
        var dense = model.Forward(batch)["logits"].clone();
        var kept = Enumerable.Range(0, (int)group.Channels).Where(i => order.Importance[i] > step).Select(i => (long)i).ToArray();
        var zeroed = ChannelSurgery.ZeroRemoved(model.Module, group, kept);
        var saved = order.Refits[count].Select(r => (r.Weight, Saved: r.Weight.detach().clone())).ToList();
        foreach (var (weight, refit) in order.Refits[count]) weight.copy_(refit);
        var pruned = model.Forward(batch)["logits"];
        Assert.That((pruned - dense).abs().max().item<float>(), Is.LessThan(1e-3 * dense.abs().max().item<float>()),
            "the refit reader adds the copy's column to its twin's");
        foreach (var (weight, copy) in saved) weight.copy_(copy);
        ChannelSurgery.Restore(zeroed);
    }

    [Test]
    public void Global_channels_refuses_a_within_group_order_and_no_method_orders_without_calibration_samples()
    {
        var model = PointNet();
        var global = new GlobalChannelsCompressor(new ChannelPruningOptions { FlopsReduction = 2, Order = ChannelOrder.GreedyObs });
        var error = Assert.Throws<ArgumentException>(() => global.Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("Order=GreedyObs").And.Contain("across groups"));

        var dp = new ChannelDPCompressor(new ChannelPruningOptions { FlopsReduction = 2, Order = ChannelOrder.GreedyObs, CalibrationSamples = 0 });
        error = Assert.Throws<ArgumentException>(() => dp.Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("CalibrationSamples is 0"));
    }

    [Test]
    public void Channel_dp_ordered_on_data_rebuilds_within_the_target_and_reports_the_ordered_groups()
    {
        Seeding.Seed(7);
        var model = PointNet();   // the compressor disposes it
        var context = TestPipeline.Context(model);
        var options = new ChannelPruningOptions { FlopsReduction = 2, CalibrationSamples = 16, RoundTo = 4, Order = ChannelOrder.GreedyObs, Reconstruct = true };
        var dense = ModelStats.Measure(model);
        var outcome = new ChannelDPCompressor(options).Run(context);
        using var pruned = context.Model!;
        Assert.That(ModelStats.Measure(pruned).Flops, Is.LessThanOrEqualTo(dense.DenseFlops / 2 * (1 + 1e-9)));
        Assert.That(outcome.Metrics["groupsOrderedOnData"], Is.EqualTo(model.ChannelGroups.Count));
        Assert.That(outcome.Metrics["distortionMeasured"], Is.LessThanOrEqualTo(outcome.Metrics["distortionMeasuredBeforeReconstruction"]));
    }
}
