using TorchSharp;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint.Tests;

/// <summary>CenterPoint's channel groups (IChannelPrunable): the neck's concatenation, the transposed deblocks, the head's shared conv.</summary>
public class ChannelPruningTests
{
    private static CenterPointModel Model(int headConvLayers = 1, Action<CenterPointOptions>? change = null)
    {
        var options = Scenes.TinyOptions();
        options.Head.HeadConvLayers = headConvLayers;
        change?.Invoke(options);
        return new CenterPointModel(options, Scenes.Info());
    }

    private static Dictionary<string, long[]> RandomKept(IChannelPrunable model, int seed)
    {
        var random = new Random(seed);
        return model.ChannelGroups.ToDictionary(g => g.Name, g =>
            Enumerable.Range(0, (int)g.Channels).OrderBy(_ => random.Next()).Take(random.Next(1, (int)g.Channels)).Select(i => (long)i).Order().ToArray());
    }

    private static Dictionary<string, Tensor> Outputs(IModel model, ModelBatch batch)
    {
        model.Module.eval();
        using var _ = no_grad();
        return model.Forward(batch).Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
    }

    [Test]
    public void Groups_cover_every_conv_with_the_neck_concatenation_at_its_offsets()
    {
        using var model = Model();
        var groups = model.ChannelGroups.ToDictionary(g => g.Name);
        Assert.That(groups.Keys, Is.EquivalentTo(new[]
        {
            "pfn", "backbone.blocks.0.0", "backbone.blocks.0.3", "backbone.blocks.1.0", "backbone.blocks.1.3", "backbone.blocks.2.0", "backbone.blocks.2.3",
            "backbone.deblocks.0.0", "backbone.deblocks.1.0", "backbone.deblocks.2.0", "head.shared.0",
            "head.heads.hm.0", "head.heads.center.0", "head.heads.center_z.0", "head.heads.dim.0", "head.heads.rot.0",
        }));
        // The deblocks' outputs sit side by side in the shared conv's input (16 channels each).
        Assert.That(new[] { 0, 1, 2 }.Select(i => groups[$"backbone.deblocks.{i}.0"].Consumers.Single().Offset), Is.EqualTo(new long[] { 0, 16, 32 }));
        // A stage's last conv feeds the next stage and its own deblock (a transposed conv reads along dimension 0).
        Assert.That(groups["backbone.blocks.0.3"].Consumers.Select(c => (c.Tensor, c.Dim)),
            Is.EquivalentTo(new[] { ("backbone.blocks.1.0.weight", 1), ("backbone.deblocks.0.0.weight", 0) }));
        Assert.That(groups["head.shared.0"].Consumers.Count(), Is.EqualTo(5), "every branch reads the shared conv");
    }

    [Test]
    public void The_rebuilt_detector_computes_what_the_original_computes_with_the_removed_channels_readers_zeroed([Values(0, 1)] int headConvLayers)
    {
        Seeding.Seed(11);
        using var model = Model(headConvLayers);
        Platform.TestKit.BatchNorms.Randomize(model.Module, 11);
        var kept = RandomKept(model, 12);
        // In float64, so that the comparison sees the surgery and not float32 summation order over 3x3 kernels.
        using var collated = model.Collate([Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)), Scenes.Frame("b", 2, Scenes.Pedestrian(12, -3))], CPU);
        using var batch = new ModelBatch(collated.Samples, collated.Tensors.ToDictionary(kv => kv.Key,
            kv => kv.Value.is_floating_point() ? kv.Value.to_type(ScalarType.Float64) : kv.Value.clone()));
        model.Module.to(ScalarType.Float64);

        using var smaller = model.WithChannels(kept);
        var rebuilt = Outputs(smaller, batch);
        var zeroed = model.ChannelGroups.Select(g => ChannelSurgery.ZeroRemoved(model.Module, g, kept[g.Name])).ToList();
        var simulated = Outputs(model, batch);
        foreach (var z in zeroed) ChannelSurgery.Restore(z);

        foreach (var (name, expected) in simulated)
            Assert.That(rebuilt[name].allclose(expected, rtol: 1e-9, atol: 1e-9), Is.True, $"{name}: largest difference {(rebuilt[name] - expected).abs().max().to_type(ScalarType.Float64).item<double>()}");
        var counted = ChannelSurgery.Flops(model, model.ChannelGroups, kept.ToDictionary(k => k.Key, k => (long)k.Value.Length));
        Assert.That(counted, Is.EqualTo(ModelStats.Measure(smaller).Flops - smaller.OtherFlopsPerSample + model.OtherFlopsPerSample).Within(1e-6 * counted),
            "the conv FLOPs counted at the kept widths are the rebuilt model's (norms are counted apart)");
    }

    [Test]
    public void A_pruned_checkpoint_loads_through_the_host_factory_with_its_own_widths()
    {
        Seeding.Seed(13);
        using var model = Model();
        using var smaller = (CenterPointModel)model.WithChannels(RandomKept(model, 14));
        var path = Path.Combine(TestPaths.NewTempDirectory("centerpoint-channels"), "pruned.ckpt");
        Checkpoint.Save(smaller, path);

        var header = Checkpoint.ReadHeader(path);
        var options = System.Text.Json.JsonSerializer.Deserialize<CenterPointOptions>(header.Spec.OptionsJson)!;
        using var loaded = new CenterPointModel(options, header.Spec.Dataset);
        Checkpoint.LoadInto(loaded, path);
        using var batch = model.Collate([Scenes.Frame("a", 3, Scenes.Car(6, 0, 0))], CPU);
        var expected = Outputs(smaller, batch);
        var actual = Outputs(loaded, batch);
        foreach (var (name, t) in expected) Assert.That(actual[name].allclose(t, rtol: 0, atol: 0), Is.True, name);
        Assert.That(loaded.ChannelGroups.Select(g => g.Channels), Is.EqualTo(smaller.ChannelGroups.Select(g => g.Channels)));
    }

    /// <summary>
    /// A channel-pruned checkpoint written before the options were nested: its spec holds the flat keys and the widths by
    /// layer name; it loads at those widths (strictly: every tensor's shape must match), a branch's hidden conv keeping the
    /// configured shared width as the flat layout built it.
    /// </summary>
    [Test]
    public void A_pruned_checkpoint_saved_with_the_flat_options_loads_at_its_own_widths()
    {
        const string flat = """
            {"Preset":"kitti-small","PointCloudRange":null,"PillarSize":null,"MaxPointsPerPillar":null,"MaxPillars":4000,"PillarChannels":16,
             "LayerNums":[1,1,1],"LayerStrides":null,"Filters":[16,32,32],"UpsampleStrides":null,"UpsampleFilters":[16,16,16],"SharedConvChannels":16,
             "HeadConvLayers":1,"GaussianOverlap":null,"MinRadius":null,"HeatmapWeight":null,"RegressionWeight":null,"MaxDetections":null,
             "ScoreThreshold":null,"NmsType":null,"NmsThreshold":null,"BatchNormMomentum":null,
             "ChannelWidths":{"head.heads.hm.0":5,"pfn":8,"backbone.blocks.1.3":20,"backbone.deblocks.2.0":4,"head.shared.0":12}}
            """;
        Seeding.Seed(15);
        using var saved = new CenterPointModel(System.Text.Json.JsonSerializer.Deserialize<CenterPointOptions>(flat)!, Scenes.Info());
        var widths = saved.ChannelGroups.ToDictionary(g => g.Name, g => g.Channels);
        Assert.That((widths["pfn"], widths["backbone.blocks.1.0"], widths["backbone.blocks.1.3"], widths["backbone.deblocks.2.0"]), Is.EqualTo((8L, 32L, 20L, 4L)));
        Assert.That((widths["head.shared.0"], widths["head.heads.hm.0"], widths["head.heads.rot.0"]), Is.EqualTo((12L, 5L, 16L)));

        // The file as the flat layout wrote it: the same weights under a header whose spec holds the flat options.
        var folder = TestPaths.NewTempDirectory("centerpoint-flat");
        var path = Path.Combine(folder, "flat.ckpt");
        Checkpoint.Save(saved, Path.Combine(folder, "nested.ckpt"));
        using (var reader = new BinaryReader(File.OpenRead(Path.Combine(folder, "nested.ckpt"))))
        using (var writer = new BinaryWriter(File.Create(path)))
        {
            writer.Write(reader.ReadUInt32());
            writer.Write(reader.ReadInt32());
            var header = System.Text.Json.JsonSerializer.Deserialize<Checkpoint.Header>(reader.ReadString())!;
            writer.Write(System.Text.Json.JsonSerializer.Serialize(header with { Spec = header.Spec with { OptionsJson = flat } }));
            reader.BaseStream.CopyTo(writer.BaseStream);
        }

        var spec = Checkpoint.ReadHeader(path).Spec;
        Assert.That(spec.OptionsJson, Does.Contain("ChannelWidths"));
        using var loaded = new CenterPointModel(System.Text.Json.JsonSerializer.Deserialize<CenterPointOptions>(spec.OptionsJson)!, spec.Dataset);
        Checkpoint.LoadInto(loaded, path);
        using var batch = saved.Collate([Scenes.Frame("a", 3, Scenes.Car(6, 0, 0))], CPU);
        var expected = Outputs(saved, batch);
        var actual = Outputs(loaded, batch);
        foreach (var (name, t) in expected) Assert.That(actual[name].equal(t).all().item<bool>(), Is.True, name);
    }

    [Test]
    public void The_rebuild_writes_each_kept_width_into_the_part_that_owns_the_layer()
    {
        using var model = Model();
        var kept = new Dictionary<string, long[]>
        {
            ["pfn"] = [0, 1, 2],
            ["backbone.blocks.1.3"] = [0, 5],
            ["backbone.deblocks.2.0"] = [1, 2, 3, 4],
            ["head.shared.0"] = [0, 1, 2, 3, 4, 5],
            ["head.heads.dim.0"] = [7],
        };
        using var smaller = (CenterPointModel)model.WithChannels(kept);
        var o = smaller.Options;
        Assert.That(o.PillarEncoder.Channels, Is.EqualTo(3));
        Assert.That(o.Backbone.ConvChannels, Is.EqualTo(new[] { new[] { 16, 16 }, new[] { 32, 2 }, new[] { 32, 32 } }));
        Assert.That(o.Neck.UpsampleFilters, Is.EqualTo(new[] { 16, 16, 4 }));
        Assert.That(o.Head.SharedConvChannels, Is.EqualTo(6));
        // The branches' hidden convs kept their width (the shared conv's configured 16), not the pruned shared width.
        Assert.That(o.Head.BranchChannels["dim"], Is.EqualTo(new[] { 1 }));
        Assert.That(o.Head.BranchChannels["hm"], Is.EqualTo(new[] { 16 }));
        Assert.That(model.Options.Backbone.ConvChannels, Is.Empty, "the original's options are left as they were");
    }

    [Test]
    public void Widths_that_do_not_fit_the_parts_are_refused_with_the_option_named()
    {
        Assert.That(() => Model(change: o => o.Backbone.ConvChannels = [[16, 16], [32]]),
            Throws.ArgumentException.With.Message.Contains("Backbone:ConvChannels"));
        Assert.That(() => Model(change: o => o.Head.BranchChannels = new() { ["heading"] = [8] }),
            Throws.ArgumentException.With.Message.Contains("'heading'").And.Message.Contains("center_z"));
        Assert.That(() => Model(change: o => o.Head.BranchChannels = new() { ["hm"] = [0] }),
            Throws.ArgumentException.With.Message.Contains("Head:BranchChannels"));
        Assert.That(() => Model().WithChannels(new Dictionary<string, long[]> { ["backbone.blocks.7.0"] = [0] }),
            Throws.ArgumentException.With.Message.Contains("backbone.blocks.7.0"));
    }
}

public class ShippedChannelPruningTests
{
    /// <summary>
    /// The committed detector, every group cut to half its width (multiples of 16, as channel pruning rounds them: other
    /// widths meet oneDNN's wrong 3x3 kernels on our CPUs, TorchRuntime.WrongConvolutions), computes in float32 what the
    /// original computes with the removed channels' readers zeroed.
    /// </summary>
    [Test]
    public void The_shipped_detector_rebuilt_at_half_width_computes_what_its_zeroed_original_computes()
    {
        var path = Path.Combine(TestPaths.RepoRoot, "models", "centerpoint-kitti-small.ckpt");
        var header = Checkpoint.ReadHeader(path);
        using var model = new CenterPointModel(System.Text.Json.JsonSerializer.Deserialize<CenterPointOptions>(header.Spec.OptionsJson)!, header.Spec.Dataset);
        Checkpoint.LoadInto(model, path);
        var random = new Random(21);
        var kept = model.ChannelGroups.ToDictionary(g => g.Name, g =>
            Enumerable.Range(0, (int)g.Channels).OrderBy(_ => random.Next()).Take((int)Math.Max(16, g.Channels / 32 * 16)).Select(i => (long)i).Order().ToArray());
        using var batch = model.Collate([Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f))], CPU);
        using var smaller = model.WithChannels(kept);
        Assert.That(TorchRuntime.WrongConvolutions(smaller.Module), Is.Empty);
        smaller.Module.eval();
        model.Module.eval();
        using var _ = no_grad();
        var rebuilt = smaller.Forward(batch).Tensors;
        var zeroed = model.ChannelGroups.Select(g => ChannelSurgery.ZeroRemoved(model.Module, g, kept[g.Name])).ToList();
        var simulated = model.Forward(batch).Tensors;
        foreach (var z in zeroed) ChannelSurgery.Restore(z);
        foreach (var (name, expected) in simulated)
            Assert.That(rebuilt[name].allclose(expected, rtol: 1e-3, atol: 1e-3), Is.True, $"{name}: largest difference {(rebuilt[name] - expected).abs().max().item<float>()}");
    }
}
