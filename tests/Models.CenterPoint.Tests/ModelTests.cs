using TorchSharp;
using System.Text.Json;
using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.CenterPoint;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint.Tests;

public class ModelTests
{
    [Test]
    public void A_preset_is_a_whole_configuration_and_options_set_over_it_replace_its_values()
    {
        var options = CenterPointOptions.FromPreset("kitti");
        options.PillarEncoder.PillarSize = 0.32;
        options.Backbone.Filters = [32, 64, 128];
        using var model = new CenterPointModel(options, Scenes.Info(Scenes.KittiRange));

        Assert.That(model.Options.Backbone.LayerNums, Is.EqualTo(new[] { 3, 5, 5 }), "from the kitti preset");
        Assert.That(model.PrunableLayers.Single(l => l.Name == "backbone.blocks.2.0").Weight.shape[0], Is.EqualTo(128));
        Assert.That((model.Grid.GridX, model.Grid.GridY, model.Grid.FeatureX, model.Grid.FeatureY), Is.EqualTo((216, 248, 108, 124)));
        // The property defaults are kitti-small; the preset names the same numbers as before issue 16.
        var small = new CenterPointOptions();
        Assert.That((small.PillarEncoder.PillarSize, small.PillarEncoder.MaxPointsPerPillar, small.PillarEncoder.MaxPillars, small.PillarEncoder.Channels), Is.EqualTo((0.32, 16, 8000, 32)));
        Assert.That((small.Head.SharedConvChannels, small.Head.HeadConvLayers, small.Targets.MinRadius, small.PostProcessing.MaxDetections), Is.EqualTo((32, 0, 1, 100)));
        var kitti = CenterPointOptions.FromPreset("KITTI");
        Assert.That((kitti.PillarEncoder.PillarSize, kitti.PillarEncoder.MaxPointsPerPillar, kitti.PillarEncoder.MaxPillars, kitti.PillarEncoder.Channels), Is.EqualTo((0.16, 32, 16000, 64)));
        Assert.That((kitti.Neck.UpsampleFilters, kitti.Head.SharedConvChannels, kitti.Head.HeadConvLayers, kitti.Targets.MinRadius, kitti.PostProcessing.MaxDetections),
            Is.EqualTo((new[] { 128, 128, 128 }, 64, 1, 2, 500)));
    }

    [Test]
    public void The_point_cloud_range_is_the_datasets()
    {
        using var model = new CenterPointModel(new CenterPointOptions(), Scenes.Info([0, -20.48f, -3, 40.96f, 20.48f, 1]));
        Assert.That(model.Grid.GridX, Is.EqualTo(128));
        Assert.That(() => new CenterPointModel(new CenterPointOptions(), new Abstractions.Data.DatasetInfo("rangeless", ModelTask.Detection3D, Scenes.Classes, 4)),
            Throws.ArgumentException.With.Message.Contains("DatasetInfo.PointCloudRange").And.Message.Contains("rangeless"));
    }

    [Test]
    public void Bad_options_name_the_option_at_fault()
    {
        CenterPointModel Build(Action<CenterPointOptions> change)
        {
            var options = new CenterPointOptions();
            change(options);
            return new CenterPointModel(options, Scenes.Info(Scenes.KittiRange));
        }
        Assert.That(() => CenterPointOptions.FromPreset("nuscenes"), Throws.ArgumentException.With.Message.Contains("Preset='nuscenes'"));
        Assert.That(() => Build(o => o.Preset = "nuscenes"), Throws.ArgumentException.With.Message.Contains("Preset='nuscenes'"));
        Assert.That(() => Build(o => o.Backbone.Filters = [32, 64]), Throws.ArgumentException.With.Message.Contains("Backbone:Filters"));
        Assert.That(() => Build(o => o.PostProcessing.NmsType = "soft"), Throws.ArgumentException.With.Message.Contains("NmsType='soft'"));
    }

    [Test]
    public void Options_saved_in_the_flat_layout_before_issue_16_read_into_the_parts()
    {
        // What a checkpoint's spec held: every setting at the top, null for the preset's value, widths by layer name.
        const string flat = """
            {"Preset":"kitti","PointCloudRange":null,"PillarSize":0.32,"MaxPointsPerPillar":null,"MaxPillars":null,"PillarChannels":null,
             "LayerNums":null,"LayerStrides":null,"Filters":[32,64,128],"UpsampleStrides":null,"UpsampleFilters":null,"SharedConvChannels":null,
             "HeadConvLayers":null,"GaussianOverlap":null,"MinRadius":null,"HeatmapWeight":null,"RegressionWeight":null,"MaxDetections":null,
             "ScoreThreshold":0.3,"NmsType":"Circle","NmsThreshold":null,"BatchNormMomentum":null,
             "ChannelWidths":{"pfn":40,"backbone.blocks.1.3":50,"head.shared.0":24,"backbone.deblocks.0.0":100}}
            """;
        var o = JsonSerializer.Deserialize<CenterPointOptions>(flat)!;
        Assert.That((o.Preset, o.PillarEncoder.PillarSize, o.PillarEncoder.MaxPillars, o.PillarEncoder.Channels), Is.EqualTo(("kitti", 0.32, 16000, 40)));
        Assert.That(o.Backbone.LayerNums, Is.EqualTo(new[] { 3, 5, 5 }));
        Assert.That(o.Backbone.ConvChannels[1], Is.EqualTo(new[] { 64, 50, 64, 64, 64, 64 }), "a layer's width over its stage's Filters");
        Assert.That(o.Neck.UpsampleFilters, Is.EqualTo(new[] { 100, 128, 128 }));
        Assert.That((o.Head.SharedConvChannels, o.Head.BranchChannels["rot"].Single()), Is.EqualTo((24, 64)), "hidden convs keep the configured shared width");
        Assert.That((o.PostProcessing.ScoreThreshold, o.PostProcessing.NmsType, o.PostProcessing.MaxDetections, o.BatchNormMomentum), Is.EqualTo((0.3, "circle", 500, 0.1)));
        Assert.That(JsonSerializer.Serialize(o), Does.Not.Contain("ChannelWidths"), "saved again in the nested layout");
        Assert.That(() => JsonSerializer.Deserialize<CenterPointOptions>("""{"Preset":"kitti-small","PointCloudRange":[0,-40,-3,70,40,1]}"""),
            Throws.InstanceOf<JsonException>().With.Message.Contains("dataset's only"));
    }

    [Test]
    public void The_committed_checkpoints_flat_options_rebuild_the_kitti_small_preset()
    {
        var header = Checkpoint.ReadHeader(Path.Combine(TestPaths.RepoRoot, "models", "centerpoint-kitti-small.ckpt"));
        var saved = JsonSerializer.Deserialize<CenterPointOptions>(header.Spec.OptionsJson)!;
        Assert.That(JsonSerializer.Serialize(saved), Is.EqualTo(JsonSerializer.Serialize(new CenterPointOptions())));
    }

    [Test]
    public void A_conv_layers_flops_equal_outputs_positions_times_its_weights()
    {
        using var model = new CenterPointModel(new CenterPointOptions(), Scenes.Info(Scenes.KittiRange));
        // kitti-small: 216 x 248 pillars; the first stage's strided 3x3 conv 32 -> 32 outputs 108 x 124 positions.
        var conv = model.PrunableLayers.Single(l => l.Name == "backbone.blocks.0.0");
        Assert.That(conv.Weight.shape, Is.EqualTo(new long[] { 32, 32, 3, 3 }));
        Assert.That(ModelStats.LayerFlops(conv, conv.WeightCount), Is.EqualTo(32.0 * 32 * 3 * 3 * 108 * 124));
        Assert.That(conv.FlopsPerWeight, Is.EqualTo(ModelStats.Conv2dFlopsPerWeight(108, 124)));
        // The pillar net's linear layer: once per (pillar, point) slot at the configured caps.
        var linear = model.PrunableLayers.Single(l => l.Kind == "linear");
        Assert.That(linear.FlopsPerWeight, Is.EqualTo(8000.0 * 16));
        // Every prunable layer is counted, and the dense count is what the shared counter reports.
        var stats = ModelStats.Measure(model);
        Assert.That(stats.DenseFlops, Is.EqualTo(model.PrunableLayers.Sum(l => l.WeightCount * l.FlopsPerWeight) + model.OtherFlopsPerSample).Within(1.0));
    }

    [Test]
    public void At_a_measured_input_the_pillar_net_is_costed_per_non_empty_pillar()
    {
        using var model = new CenterPointModel(new CenterPointOptions(), Scenes.Info(Scenes.KittiRange));
        var costs = model.CostsAt(new Dictionary<string, double> { ["nonEmptyPillars"] = 2000 })!;
        var linear = model.PrunableLayers.Single(l => l.Name == "pfn.linear");
        var conv = model.PrunableLayers.Single(l => l.Name == "backbone.blocks.0.0");
        // kitti-small: 16 point slots per pillar; the grid convs do not depend on the input.
        Assert.That(costs.FlopsPerWeightOf(linear), Is.EqualTo(2000.0 * 16));
        Assert.That(costs.FlopsPerWeightOf(conv), Is.EqualTo(conv.FlopsPerWeight));
        Assert.That(costs.OtherFlopsPerSample, Is.EqualTo(model.OtherFlopsPerSample - 6000.0 * 16 * 32).Within(1e-6));
        // 6000 fewer pillars x 16 slots, each with 9x32 linear MACs and 32 norm elements.
        var capacity = ModelStats.Measure(model);
        var measured = ModelStats.Measure(model, costs);
        Assert.That(capacity.DenseFlops - measured.DenseFlops, Is.EqualTo(6000.0 * 16 * (9 * 32 + 32)).Within(1e-3));
        Assert.That(model.CostsAt(new Dictionary<string, double>()), Is.Null, "no pillar count, no measured cost");
    }

    [Test]
    public void The_head_outputs_have_the_feature_map_size_the_flops_assume()
    {
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        model.Module.eval();
        using var batch = model.Collate([Scenes.Frame("a", 1, Scenes.Car(8, 2, 0))], CPU);
        using var _ = no_grad();
        var output = model.Forward(batch);
        Assert.That(output["hm"].shape, Is.EqualTo(new long[] { 1, 3, 32, 32 }));
        Assert.That(output["rot"].shape, Is.EqualTo(new long[] { 1, 2, 32, 32 }));
        var headConv = model.PrunableLayers.Single(l => l.Name == "head.shared.0");
        Assert.That(headConv.FlopsPerWeight, Is.EqualTo(32.0 * 32));
        // DM3D compares raw head outputs: heatmap logits, not probabilities.
        Assert.That(model.DistortionOutputs.Single(d => d.Group == DistortionGroup.Confidence), Is.EqualTo(new DistortionOutput("hm", DistortionGroup.Confidence, ApplySigmoid: false)));
    }

    [Test]
    public void The_staged_pass_from_any_stage_gives_the_forward_outputs_bit_for_bit_and_no_stage_before_a_modules_reads_its_parameters()
    {
        Seeding.Seed(4);
        var options = Scenes.TinyOptions();
        options.Head.HeadConvLayers = 1;
        using var model = new CenterPointModel(options, Scenes.Info());
        var frames = new[] { Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)), Scenes.Frame("b", 2, Scenes.Pedestrian(5, -1)) };
        new Trainer(RunServices.ForTesting()).Fit(model, new Abstractions.Data.InMemorySampleSource("t", frames), new TrainOptions { Epochs = 1, BatchSize = 2 });
        model.Module.eval();
        using var batch = model.Collate(frames, CPU);
        using var _ = no_grad();
        var full = model.Forward(batch);
        // Pillar net, 3 x (block, deblock), shared conv, branches.
        Assert.That(model.StageCount, Is.EqualTo(9));
        for (var stage = 0; stage < model.StageCount; stage++)
        {
            var staged = model.ForwardFrom(stage, model.Enter(stage, batch), batch);
            foreach (var name in full.Tensors.Keys)
                Assert.That(staged[name].equal(full[name]).all().item<bool>(), $"stage {stage}, output {name}");
        }

        var stages = model.PrunableLayers.ToDictionary(l => l.Name, l => model.StageOf(l.Name));
        Assert.That(stages["pfn.linear"], Is.Zero);
        Assert.That(stages["backbone.blocks.1.3"], Is.EqualTo(3));
        Assert.That(stages["backbone.deblocks.2.0"], Is.EqualTo(6));
        Assert.That(stages["head.shared.0"], Is.EqualTo(7));
        Assert.That(stages.Where(kv => kv.Key.StartsWith("head.heads.", StringComparison.Ordinal)).Select(kv => kv.Value), Is.All.EqualTo(8));
        Assert.That(model.StageOf("backbone.blocks.7.0"), Is.EqualTo(-1), "no such backbone stage");
        Assert.That(model.StageOf("backbone.blocks.0.1"), Is.EqualTo(1), "a block's norm is in its conv's stage");
        // Every parameter (conv, norm) belongs to a module with a stage. Changing it leaves the state entering that stage
        // as it was and changes the outputs from there: channel pruning cuts a conv and its norm together.
        foreach (var group in model.Module.named_parameters().GroupBy(p => p.name[..p.name.LastIndexOf('.')]))
        {
            var stage = model.StageOf(group.Key);
            Assert.That(stage, Is.GreaterThanOrEqualTo(0), group.Key);
            var before = model.Enter(stage, batch);
            var backups = group.Select(p => p.parameter.detach().clone()).ToList();
            foreach (var (_, parameter) in group) parameter.add_(1);
            var after = model.Enter(stage, batch);
            Assert.That(before.Zip(after).All(p => p.First.equal(p.Second).all().item<bool>()), $"{group.Key}: the state entering stage {stage} changed");
            var changed = model.ForwardFrom(stage, after, batch);
            Assert.That(full.Tensors.Keys.All(name => changed[name].equal(full[name]).all().item<bool>()), Is.False, $"{group.Key}: no output changed");
            foreach (var ((_, parameter), backup) in group.Zip(backups)) parameter.copy_(backup);
        }
    }

    [Test]
    public void A_checkpoint_with_masks_reloads_to_bit_identical_outputs()
    {
        Seeding.Seed(3);
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        var frames = new[] { Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)), Scenes.Frame("b", 2, Scenes.Pedestrian(5, -1)) };
        // A few training steps so the norms' running statistics are not the defaults.
        new Trainer(RunServices.ForTesting()).Fit(model, new Abstractions.Data.InMemorySampleSource("t", frames), new TrainOptions { Epochs = 2, BatchSize = 2 });
        var conv = model.PrunableLayers.Single(l => l.Name == "backbone.blocks.1.0");
        model.Masks.Set(conv, rand(conv.Weight.shape) > 0.5);
        var folder = TestPaths.NewTempDirectory("centerpoint-ckpt");
        var path = Path.Combine(folder, "model.ckpt");
        Checkpoint.Save(model, path);

        var header = Checkpoint.ReadHeader(path);
        var options = JsonSerializer.Deserialize<CenterPointOptions>(header.Spec.OptionsJson)!;
        using var loaded = new CenterPointModel(options, header.Spec.Dataset);
        Checkpoint.LoadInto(loaded, path);

        Assert.That(loaded.Masks.LayerNames, Is.EqualTo(new[] { "backbone.blocks.1.0" }));
        var loadedConv = loaded.PrunableLayers.Single(l => l.Name == "backbone.blocks.1.0");
        Assert.That(loadedConv.Weight.count_nonzero().item<long>(), Is.EqualTo(conv.Weight.count_nonzero().item<long>()));
        model.Module.eval();
        loaded.Module.eval();
        using var _ = no_grad();
        using var batch = model.Collate(frames, CPU);
        var a = model.Forward(batch);
        var b = loaded.Forward(batch);
        foreach (var name in new[] { "hm", "center", "center_z", "dim", "rot" })
            Assert.That(a[name].equal(b[name]).all().item<bool>(), Is.True, name);
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>Issue 13: TorchSharp's Module.to threw for a module holding a ModuleDict (the heads), so no run could move the model.</summary>
    [Test]
    public void The_model_moves_to_float64_and_back_to_the_same_outputs()
    {
        Seeding.Seed(4);
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        model.Module.eval();
        var frames = new[] { Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)) };
        using var _ = no_grad();
        using var batch = model.Collate(frames, CPU);
        var before = model.Forward(batch)["hm"].clone();

        model.Module.to(ScalarType.Float64);
        Assert.That(model.Module.parameters().Select(p => p.dtype).Distinct(), Is.EqualTo(new[] { ScalarType.Float64 }));
        Assert.That(model.PrunableLayers.Select(l => l.Weight.dtype).Distinct(), Is.EqualTo(new[] { ScalarType.Float64 }), "the prunable-layer view follows the move");
        model.Module.to(ScalarType.Float32);

        Assert.That(model.Forward(batch)["hm"].equal(before).all().item<bool>(), Is.True);
    }

    /// <summary>Inference collation (evaluation, latency) skips the training targets and gives the same predictions.</summary>
    [Test]
    public void Inference_collation_has_the_pillars_without_targets_and_predicts_the_same()
    {
        Seeding.Seed(6);
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        model.Module.eval();
        var frames = new[] { Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)), Scenes.Frame("b", 2, Scenes.Car(12, -3, 0.1f)) };
        using var _ = no_grad();
        using var full = model.Collate(frames, CPU);
        using var inputs = model.CollateInputs(frames, CPU);

        Assert.That(inputs.Tensors.Keys.Order(), Is.EqualTo(new[] { "pillar_coords", "pillar_counts", "pillar_points" }));
        Assert.That(full.Tensors.Keys, Does.Contain("target_hm"));
        foreach (var key in inputs.Tensors.Keys) Assert.That(inputs[key].equal(full[key]).all().item<bool>(), Is.True, key);
        var fromFull = model.Predict(model.Forward(full), full);
        var fromInputs = model.Predict(model.Forward(inputs), inputs);
        Assert.That(JsonSerializer.Serialize(fromInputs), Is.EqualTo(JsonSerializer.Serialize(fromFull)));
    }

    /// <summary>
    /// Issue 13: Module.to replaces the parameter tensors and disposes the old ones. The prunable-layer view read before
    /// a move pointed at disposed tensors ("Tensor invalid -- empty handle" at the first step of every cuda run that
    /// loaded a checkpoint); a dtype move shows it on the CPU.
    /// </summary>
    [Test]
    public void The_prunable_layer_view_read_before_a_move_follows_the_moved_weights()
    {
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        var before = ModelStats.Measure(model);
        model.Module.to(ScalarType.Float64);

        Assert.That(model.PrunableLayers.Select(l => l.Weight.dtype).Distinct(), Is.EqualTo(new[] { ScalarType.Float64 }));
        Assert.That(ModelStats.Measure(model).NonzeroParams, Is.EqualTo(before.NonzeroParams));
        model.Module.to(ScalarType.Float32);
        var conv = model.PrunableLayers.Single(l => l.Name == "head.shared.0");
        Assert.That(conv.Weight.IsInvalid, Is.False);
        Assert.That(ReferenceEquals(conv.Weight, model.Module.named_parameters().Single(p => p.name == "head.shared.0.weight").parameter), Is.True,
            "the view holds the module's own parameter, so masks and pruning reach the weights the forward pass uses");
    }

    /// <summary>Issue 13 §1: a checkpoint of a model on a non-default dtype loads back to the same dtype, weights and masks.</summary>
    [Test]
    public void A_float64_model_saved_with_masks_loads_back_as_float64_with_the_same_outputs()
    {
        Seeding.Seed(5);
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        model.Module.eval();
        model.Module.to(ScalarType.Float64);
        var conv = model.PrunableLayers.Single(l => l.Name == "head.shared.0");
        using (var keep = ones_like(conv.Weight)) { keep[..4] = zeros(4, 48, 3, 3, dtype: ScalarType.Float64); model.Masks.Set(conv, keep); }
        var frames = new[] { Scenes.Frame("a", 1, Scenes.Car(8, 2, 0.3f)) };
        using var _ = no_grad();
        using var batch = model.Collate(frames, CPU);
        var before = model.Forward(batch)["hm"].clone();
        var file = Path.Combine(TestPaths.NewTempDirectory("checkpoint-float64"), "model.ckpt");
        Checkpoint.Save(model, file);

        using var loaded = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        loaded.Module.eval();
        Checkpoint.LoadInto(loaded, file);

        Assert.That(loaded.Module.parameters().Select(p => p.dtype).Distinct(), Is.EqualTo(new[] { ScalarType.Float64 }));
        Assert.That(loaded.Masks.TryGet("head.shared.0", out var mask) && mask.sum().item<long>() == conv.Weight.numel() - 4 * 48 * 9, Is.True);
        using var loadedBatch = loaded.Collate(frames, CPU);
        Assert.That(loaded.Forward(loadedBatch)["hm"].equal(before).all().item<bool>(), Is.True);
    }
}

public class KitTests
{
    [Test]
    public void Masking_half_of_a_conv_removes_half_of_its_flops_from_the_shared_count()
    {
        using var model = new CenterPointModel(Scenes.TinyOptions(), Scenes.Info());
        var dense = ModelStats.Measure(model);
        // head.shared.0: 48 -> 16 channels, 3x3, on the 32 x 32 feature map. Keep output channels 0..7.
        var conv = model.PrunableLayers.Single(l => l.Name == "head.shared.0");
        var keep = zeros_like(conv.Weight);
        keep[..8] = ones(8, 48, 3, 3);
        model.Masks.Set(conv, keep);

        var masked = ModelStats.Measure(model);
        Assert.That(dense.Flops - masked.Flops, Is.EqualTo(8.0 * 48 * 9 * 32 * 32));
        Assert.That(dense.NonzeroParams - masked.NonzeroParams, Is.EqualTo(8 * 48 * 9));
        Assert.That(masked.DenseFlops, Is.EqualTo(dense.DenseFlops));
    }

    [Test]
    public void The_plugin_module_registers_the_model_under_its_name_with_its_options()
    {
        var builder = new ContainerBuilder();
        builder.RegisterModule(new CenterPointPluginModule());
        using var container = builder.Build();
        var descriptor = container.Resolve<IEnumerable<ComponentDescriptor>>().Single();
        Assert.That((descriptor.Kind, descriptor.Name, descriptor.OptionsType), Is.EqualTo((ComponentKind.Model, "centerpoint", typeof(CenterPointOptions))));
    }
}
