using System.Text.Json;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.PointNet;
using static TorchSharp.torch;

namespace Platform.Models.PointNet.Tests;

/// <summary>PointNet's channel groups (IChannelPrunable) and the kit's surgery on a real model.</summary>
public class ChannelPruningTests
{
    private static readonly DatasetInfo ThreeClasses = new("test", ModelTask.Classification, ["a", "b", "c"], 3);

    private static PointNetModel Model(bool transforms, Dictionary<string, int>? widths = null) =>
        new(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 32, InputTransform = transforms, FeatureTransform = transforms, ChannelWidths = widths ?? [] }, ThreeClasses);

    /// <summary>Random kept channels for every group: between one and all but one, ascending.</summary>
    private static Dictionary<string, long[]> RandomKept(IChannelPrunable model, int seed)
    {
        var random = new Random(seed);
        return model.ChannelGroups.ToDictionary(g => g.Name, g =>
        {
            var count = random.Next(1, (int)g.Channels);
            return Enumerable.Range(0, (int)g.Channels).OrderBy(_ => random.Next()).Take(count).Select(i => (long)i).Order().ToArray();
        });
    }

    /// <summary>The defining property of a rebuild: the original with the removed channels' readers zeroed gives its logits.</summary>
    private static void AssertZeroedOriginalComputes(IChannelPrunable model, IReadOnlyDictionary<string, long[]> kept, ModelBatch batch, Tensor rebuilt)
    {
        var zeroed = model.ChannelGroups.Select(g => ChannelSurgery.ZeroRemoved(model.Module, g, kept[g.Name])).ToList();
        using var simulated = Logits(model, batch);
        foreach (var z in zeroed) ChannelSurgery.Restore(z);
        Assert.That(rebuilt.allclose(simulated, rtol: 1e-4, atol: 1e-5), Is.True, $"largest difference {(rebuilt - simulated).abs().max().item<float>()}");
    }

    private static Tensor Logits(IModel model, ModelBatch batch)
    {
        model.Module.eval();
        using var _ = no_grad();
        return model.Forward(batch)["logits"].clone();
    }

    [Test]
    public void The_rebuilt_model_computes_what_the_original_computes_with_the_removed_channels_readers_zeroed([Values(false, true)] bool transforms)
    {
        Seeding.Seed(3);
        using var model = Model(transforms);
        Platform.TestKit.BatchNorms.Randomize(model.Module, 3);
        var kept = RandomKept(model, 5);
        using var batch = model.Collate(PointNetModelTests.RandomSamples(6, 32, 3), CPU);

        using var smaller = model.WithChannels(kept);
        using var rebuilt = Logits(smaller, batch);
        AssertZeroedOriginalComputes(model, kept, batch, rebuilt);
        Assert.That(ModelStats.Measure(smaller).Params, Is.LessThan(ModelStats.Measure(model).Params));
    }

    [Test]
    public void Restore_puts_back_exactly_what_zeroing_took()
    {
        Seeding.Seed(4);
        using var model = Model(transforms: false);
        using var batch = model.Collate(PointNetModelTests.RandomSamples(4, 32, 3), CPU);
        using var before = Logits(model, batch);
        foreach (var group in model.ChannelGroups)
            ChannelSurgery.Restore(ChannelSurgery.ZeroRemoved(model.Module, group, [0]));
        using var after = Logits(model, batch);
        Assert.That(after.allclose(before, rtol: 0, atol: 0), Is.True);
    }

    [Test]
    public void Flops_counted_at_the_kept_widths_are_the_rebuilt_models_flops([Values(false, true)] bool transforms)
    {
        Seeding.Seed(5);
        using var model = Model(transforms);
        var kept = RandomKept(model, 7);
        using var smaller = model.WithChannels(kept);
        var counted = ChannelSurgery.Flops(model, model.ChannelGroups, kept.ToDictionary(k => k.Key, k => (long)k.Value.Length));
        Assert.That(counted, Is.EqualTo(ModelStats.Measure(smaller).Flops).Within(1e-6 * counted));
    }

    [Test]
    public void The_feature_transform_keeps_the_channels_it_mixes_whole()
    {
        using var with = Model(transforms: true);
        using var without = Model(transforms: false);
        Assert.That(with.ChannelGroups.Select(g => g.Name), Does.Not.Contain("mlp2"));
        Assert.That(with.ChannelGroups.Select(g => g.Name), Does.Contain("featureTransform.fc2"));
        Assert.That(without.ChannelGroups.Select(g => g.Name), Is.EqualTo(new[] { "mlp1", "mlp2", "mlp3", "mlp4", "mlp5", "fc1", "fc2" }));
    }

    [Test]
    public void A_pruned_checkpoint_rebuilds_its_own_widths_and_gives_the_same_outputs()
    {
        Seeding.Seed(6);
        using var model = Model(transforms: true);
        Platform.TestKit.BatchNorms.Randomize(model.Module, 6);
        using var smaller = model.WithChannels(RandomKept(model, 8));
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("pointnet-channels"), "pruned.ckpt");
        Checkpoint.Save(smaller, path);

        // What the host's load step does: the options from the header, a new model, the state loaded strictly.
        var header = Checkpoint.ReadHeader(path);
        var options = JsonSerializer.Deserialize<PointNetOptions>(header.Spec.OptionsJson)!;
        using var loaded = new PointNetModel(options, header.Spec.Dataset);
        Checkpoint.LoadInto(loaded, path);

        using var batch = model.Collate(PointNetModelTests.RandomSamples(5, 32, 3), CPU);
        using var expected = Logits(smaller, batch);
        using var actual = Logits(loaded, batch);
        Assert.That(actual.allclose(expected, rtol: 0, atol: 0), Is.True);
        Assert.That(options.ChannelWidths, Is.Not.Empty);
    }

    [Test]
    public void Masks_are_cut_with_their_weights()
    {
        Seeding.Seed(7);
        using var model = Model(transforms: false);
        var layer = model.PrunableLayers.First(l => l.Name == "mlp4.conv");
        using (var keep = ones_like(layer.Weight, dtype: ScalarType.Bool))
        {
            keep[2, 1] = tensor(false);   // output 2, input 1
            keep[3, 0] = tensor(false);   // output 3, input 0 (input 0 is removed below)
            model.Masks.Set(layer, keep);
        }
        using var smaller = model.WithChannels(new Dictionary<string, long[]> { ["mlp3"] = [1, 2, 3, 5], ["mlp4"] = [0, 2, 3] });

        Assert.That(smaller.Masks.TryGet("mlp4.conv", out var mask), Is.True);
        Assert.That(mask.shape, Is.EqualTo(new long[] { 3, 4, 1 }));
        // Kept outputs 0, 2, 3 -> rows 0, 1, 2; kept inputs 1, 2, 3, 5 -> columns 0..3. Only (2, 1) survives as a zero.
        Assert.That(mask.logical_not().nonzero().data<long>().ToArray(), Is.EqualTo(new long[] { 1, 0, 0 }));
        var weight = smaller.PrunableLayers.First(l => l.Name == "mlp4.conv").Weight;
        Assert.That(weight[1, 0, 0].item<float>(), Is.EqualTo(0f), "the masked weight stays zero in the rebuilt layer");
    }

    [Test]
    public void Widths_for_no_group_and_bad_kept_channels_are_refused_with_their_names()
    {
        var unknown = Assert.Throws<ArgumentException>(() => Model(false, new Dictionary<string, int> { ["mlp9"] = 3 }))!;
        Assert.That(unknown.Message, Does.Contain("mlp9").And.Contain("mlp5"));
        var zero = Assert.Throws<ArgumentException>(() => Model(false, new Dictionary<string, int> { ["mlp2"] = 0 }))!;
        Assert.That(zero.Message, Does.Contain("mlp2"));

        using var model = Model(transforms: false);
        var unsorted = Assert.Throws<ArgumentException>(() => model.WithChannels(new Dictionary<string, long[]> { ["mlp1"] = [2, 1] }))!;
        Assert.That(unsorted.Message, Does.Contain("mlp1").And.Contain("ascending"));
        var outside = Assert.Throws<ArgumentException>(() => model.WithChannels(new Dictionary<string, long[]> { ["nope"] = [0] }))!;
        Assert.That(outside.Message, Does.Contain("nope"));
    }

    private static PointNet2SsgModel PointNet2(Dictionary<string, int>? widths = null) =>
        new(new PointNet2SsgOptions { WidthMultiplier = 0.125, NumPoints = 32, Sa1Centroids = 16, Sa1Samples = 8, Sa2Centroids = 8, Sa2Samples = 8, ChannelWidths = widths ?? [] }, ThreeClasses);

    [Test]
    public void PointNet2_rebuilt_computes_what_the_original_computes_with_the_removed_channels_readers_zeroed()
    {
        Seeding.Seed(8);
        using var model = PointNet2();
        Platform.TestKit.BatchNorms.Randomize(model.Module, 8);
        var kept = RandomKept(model, 9);
        using var batch = model.Collate(PointNetModelTests.RandomSamples(4, 32, 3), CPU);
        using var smaller = model.WithChannels(kept);
        using var rebuilt = Logits(smaller, batch);
        AssertZeroedOriginalComputes(model, kept, batch, rebuilt);
        // The levels' last layers are read behind the 3 local coordinates.
        Assert.That(model.ChannelGroups.Single(g => g.Name == "sa1.mlp.mlp3").Consumers.Single(), Is.EqualTo(new ChannelMember("sa2.mlp.mlp1.conv.weight", 1, ChannelRole.Consumer, 3)));
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("pointnet2-channels"), "pruned.ckpt");
        Checkpoint.Save(smaller, path);
        using var loaded = new PointNet2SsgModel(JsonSerializer.Deserialize<PointNet2SsgOptions>(Checkpoint.ReadHeader(path).Spec.OptionsJson)!, ThreeClasses);
        Checkpoint.LoadInto(loaded, path);
        using var reloaded = Logits(loaded, batch);
        Assert.That(reloaded.allclose(rebuilt, rtol: 0, atol: 0), Is.True);
    }
}
