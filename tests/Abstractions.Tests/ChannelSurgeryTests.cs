using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Tests;

public class ChannelSurgeryTests
{
    /// <summary>a: Linear(2 -> 3, no bias), b: Linear(3 -> 1); one group: a's outputs, read by b.</summary>
    private static (nn.Module Module, ChannelGroup Group) TwoLinears(float[] aWeight)
    {
        var module = nn.Sequential(("a", nn.Linear(2, 3, hasBias: false)), ("b", nn.Linear(3, 1)));
        using (no_grad()) module.state_dict()["a.weight"].copy_(tensor(aWeight).reshape(3, 2));
        return (module, ChannelGroup.Chain("a", 3, "a", null, ["b"]));
    }

    [Test]
    public void Filter_l1_importance_is_the_mean_absolute_weight_of_each_output_channel()
    {
        var (module, group) = TwoLinears([1, -3, 0.5f, 0.5f, -2, 0]);
        Assert.That(ChannelSurgery.Importance(module, group, ChannelImportance.FilterL1), Is.EqualTo(new[] { 2.0, 0.5, 1.0 }).Within(1e-7));
        // No batch norm in the group: the scale ranking falls back to the filters.
        Assert.That(ChannelSurgery.Importance(module, group, ChannelImportance.BatchNormScale), Is.EqualTo(new[] { 2.0, 0.5, 1.0 }).Within(1e-7));
        module.Dispose();
    }

    [Test]
    public void Batch_norm_scale_importance_is_the_absolute_gamma()
    {
        var module = nn.Sequential(("a", nn.Linear(2, 3, hasBias: false)), ("n", nn.BatchNorm1d(3)), ("b", nn.Linear(3, 1)));
        using (no_grad()) module.state_dict()["n.weight"].copy_(tensor(new[] { -0.2f, 3f, 1f }));
        var group = ChannelGroup.Chain("a", 3, "a", "n", ["b"]);
        Assert.That(ChannelSurgery.Importance(module, group, ChannelImportance.BatchNormScale), Is.EqualTo(new[] { 0.2, 3.0, 1.0 }).Within(1e-7));
        module.Dispose();
    }

    [Test]
    public void The_most_important_channels_come_back_in_index_order_and_ties_keep_the_lower_index()
    {
        Assert.That(ChannelSurgery.MostImportant([0.1, 5, 2, 2, 7], 3), Is.EqualTo(new long[] { 1, 2, 4 }));
        Assert.That(ChannelSurgery.MostImportant([1, 1, 1], 2), Is.EqualTo(new long[] { 0, 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelSurgery.MostImportant([1, 2], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelSurgery.MostImportant([1, 2], 3));
    }

    [Test]
    public void Zeroing_removes_exactly_the_readers_columns_of_the_dropped_channels_at_their_offset()
    {
        // b reads a concatenation [x (1 channel) | a (3 channels)]: a's channels sit at offset 1 of b's input.
        var module = nn.Sequential(("a", nn.Linear(2, 3, hasBias: false)), ("b", nn.Linear(4, 2)));
        var b = module.state_dict()["b.weight"];
        using (no_grad()) b.copy_(arange(1, 9, ScalarType.Float32).reshape(2, 4));
        var group = new ChannelGroup("a", 3, [new("a.weight", 0, ChannelRole.Producer), new("b.weight", 1, ChannelRole.Consumer, Offset: 1)]);

        var zeroed = ChannelSurgery.ZeroRemoved(module, group, [1]);
        Assert.That(b.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 0, 3, 0, 5, 0, 7, 0 }));
        ChannelSurgery.Restore(zeroed);
        Assert.That(b.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        module.Dispose();
    }
}
