using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.PointNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Models.PointNet.Tests;

public class PointNetModelTests
{
    private static readonly DatasetInfo TwoClasses = new("test", ModelTask.Classification, ["a", "b"], 3);

    internal static Sample[] RandomSamples(int count, int points, int classes = 2, int seed = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new Sample
        {
            Id = $"s{i}",
            Points = Enumerable.Range(0, points * 3).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(),
            PointFeatures = 3,
            Label = i % classes,
        }).ToArray();
    }

    [Test]
    public void Flops_count_each_shared_mlp_weight_once_per_point_and_each_fc_weight_once()
    {
        // Width 1/16 without transforms: shared MLP 3-4-4-4-8-64, head 64-32-16-2, on 10 points.
        var options = new PointNetOptions { WidthMultiplier = 0.0625, NumPoints = 10, InputTransform = false, FeatureTransform = false };
        using var model = new PointNetModel(options, TwoClasses);
        var stats = ModelStats.Measure(model);
        const double conv = 10 * (3 * 4 + 4 * 4 + 4 * 4 + 4 * 8 + 8 * 64);
        const double fc = 64 * 32 + 32 * 16 + 16 * 2;
        Assert.That(stats.DenseFlops, Is.EqualTo(conv + fc));
        Assert.That(model.PrunableLayers.Select(l => l.Name), Is.EquivalentTo(new[]
        {
            "mlp1.conv", "mlp2.conv", "mlp3.conv", "mlp4.conv", "mlp5.conv", "fc1.linear", "fc2.linear", "classifier.linear",
        }));
    }

    [Test]
    public void Transforms_add_their_matrix_products_to_the_other_flops()
    {
        var options = new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 16 };
        using var model = new PointNetModel(options, TwoClasses);
        // x A per point: 3x3 for the input transform, 8x8 for the feature transform at width 1/8.
        Assert.That(model.OtherFlopsPerSample, Is.EqualTo(16.0 * (9 + 64)));
    }

    [Test]
    public void Orthogonality_regularizer_is_zero_for_a_rotation_and_k_times_nine_for_twice_the_identity()
    {
        var angle = 0.3;
        using var rotation = tensor(new float[] { (float)Math.Cos(angle), -(float)Math.Sin(angle), (float)Math.Sin(angle), (float)Math.Cos(angle) }, new long[] { 1, 2, 2 });
        Assert.That(PointNetModel.OrthogonalityRegularizer(rotation).item<float>(), Is.EqualTo(0).Within(1e-6));
        using var doubled = (eye(4) * 2).unsqueeze(0);
        // I - 4I = -3I: four squared entries of 9.
        Assert.That(PointNetModel.OrthogonalityRegularizer(doubled).item<float>(), Is.EqualTo(36).Within(1e-5));
    }

    [Test]
    public void Forward_gives_logits_per_class_and_predictions_with_probabilities()
    {
        torch.manual_seed(0);
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 32 }, TwoClasses);
        model.Module.eval();
        using var batch = model.Collate(RandomSamples(3, 50), CPU);
        var output = model.Forward(batch);
        Assert.That(output["logits"].shape, Is.EqualTo(new long[] { 3, 2 }));
        var predictions = model.Predict(output, batch);
        Assert.That(predictions.Select(p => p.Probabilities.Sum()), Is.All.EqualTo(1).Within(1e-5));
        Assert.That(predictions.Select(p => p.ClassId), Is.All.InRange(0, 1));
    }

    /// <summary>Issue 13: moving a model to another dtype (or device) and back leaves it as it was.</summary>
    [Test]
    public void Both_models_move_to_float64_and_back_to_the_same_outputs()
    {
        torch.manual_seed(0);
        using var pointNet = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 32 }, TwoClasses);
        using var pointNet2 = new PointNet2SsgModel(PointNet2SsgTests.Small, TwoClasses);
        foreach (IModel model in new IModel[] { pointNet, pointNet2 })
        {
            model.Module.eval();
            using var _ = no_grad();
            using var batch = model.Collate(RandomSamples(2, 40), CPU);
            var before = model.Forward(batch)["logits"].clone();
            model.Module.to(ScalarType.Float64);
            Assert.That(model.Module.parameters().Select(p => p.dtype).Distinct(), Is.EqualTo(new[] { ScalarType.Float64 }), model.GetType().Name);
            model.Module.to(ScalarType.Float32);
            Assert.That(model.Forward(batch)["logits"].equal(before).all().item<bool>(), Is.True, model.GetType().Name);
        }
    }

    [Test]
    public void Collate_pads_small_clouds_and_subsamples_large_ones_to_the_configured_count()
    {
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 8 }, TwoClasses);
        var samples = new[] { RandomSamples(1, 3)[0], RandomSamples(1, 20)[0] with { Id = "big" } };
        using var batch = model.Collate(samples, CPU);
        Assert.That(batch["points"].shape, Is.EqualTo(new long[] { 2, 3, 8 }));
        // The padded cloud only repeats its own three points.
        var first = batch["points"][0].t().data<float>().ToArray();
        var originals = Enumerable.Range(0, 3).Select(i => samples[0].Points.Skip(3 * i).Take(3).ToArray()).ToArray();
        for (var i = 0; i < 8; i++)
            Assert.That(originals.Any(o => o.SequenceEqual(first.Skip(3 * i).Take(3))), $"point {i} is not one of the sample's points");
    }

    [Test]
    public void The_tiny_weights_are_the_leading_slice_of_every_augmented_weight()
    {
        torch.manual_seed(0);
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 16 }, TwoClasses);
        model.EnableAugmentation(3);
        var augmentation = model.Augmentation!;
        var trunk = model.Network.Trunk;
        for (var i = 0; i < trunk.Count; i++)
        {
            var tiny = trunk[i].Matrix;
            var wide = augmentation.Weight(i, 3);
            Assert.That(wide.shape[0], Is.EqualTo(i == trunk.Count - 1 ? tiny.shape[0] : 3 * tiny.shape[0]), $"layer {i} rows");
            Assert.That(wide.shape[1], Is.EqualTo(i == 0 ? tiny.shape[1] : 3 * tiny.shape[1]), $"layer {i} columns");
            var slice = wide[TensorIndex.Slice(0, tiny.shape[0]), TensorIndex.Slice(0, tiny.shape[1])];
            Assert.That(slice.equal(tiny).all().item<bool>(), $"layer {i}: the leading slice differs from the tiny weight");
        }
        // An intermediate width is the leading slice of the widest.
        var half = augmentation.Weight(3, 2);
        Assert.That(half.equal(augmentation.Weight(3, 3)[TensorIndex.Slice(0, half.shape[0]), TensorIndex.Slice(0, half.shape[1])]).all().item<bool>());
    }

    [Test]
    public void Each_augmented_layer_takes_its_own_width_factor()
    {
        torch.manual_seed(0);
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 16, Dropout = 0 }, TwoClasses);
        model.EnableAugmentation(3);
        var augmentation = model.Augmentation!;
        var trunk = model.Network.Trunk;
        Assert.That(model.AugmentedLayerCount, Is.EqualTo(trunk.Count));
        // Alternate 3x and 1x: a layer's rows follow its own factor, its columns the factor of the layer before it.
        var factors = Enumerable.Range(0, trunk.Count).Select(i => i % 2 == 0 ? 3.0 : 1.0).ToArray();
        for (var i = 0; i < trunk.Count; i++)
        {
            var tiny = trunk[i].Matrix;
            var wide = augmentation.Weight(i, factors);
            Assert.That(wide.shape[0], Is.EqualTo(i == trunk.Count - 1 ? tiny.shape[0] : (long)factors[i] * tiny.shape[0]), $"layer {i} rows");
            Assert.That(wide.shape[1], Is.EqualTo(i == 0 ? tiny.shape[1] : (long)factors[i - 1] * tiny.shape[1]), $"layer {i} columns");
        }
        model.Module.train();
        using var batch = model.Collate(RandomSamples(4, 16), CPU);
        // The same factor for every layer is the uniformly wider network; all ones is the tiny one.
        Assert.That(model.ForwardAugmented(batch, augmentation.Uniform(2))["logits"].allclose(model.ForwardAugmented(batch, 2)["logits"]), Is.True);
        Assert.That(model.ForwardAugmented(batch, augmentation.Uniform(1))["logits"].allclose(model.Forward(batch)["logits"], rtol: 1e-4, atol: 1e-5), Is.True);
        Assert.That(model.ForwardAugmented(batch, factors)["logits"].shape, Is.EqualTo(new long[] { 4, 2 }));
        Assert.Throws<ArgumentException>(() => model.ForwardAugmented(batch, factors.Skip(1).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardAugmented(batch, factors.Select(f => f == 1 ? 0.5 : f).ToArray()));
    }

    [Test]
    public void The_augmented_network_at_width_factor_one_is_the_tiny_network()
    {
        torch.manual_seed(0);
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 16, Dropout = 0 }, TwoClasses);
        model.EnableAugmentation(2);
        model.Module.train();
        using var batch = model.Collate(RandomSamples(4, 16), CPU);
        var tiny = model.Forward(batch)["logits"];
        var augmented = model.ForwardAugmented(batch, 1)["logits"];
        Assert.That(augmented.allclose(tiny, rtol: 1e-4, atol: 1e-5), Is.True);
    }

    [Test]
    public void The_augmented_loss_trains_the_tiny_weights_and_disabling_leaves_only_the_tiny_parameters()
    {
        torch.manual_seed(0);
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 16 }, TwoClasses);
        var ownParameters = model.Module.parameters().Sum(p => p.numel());
        model.EnableAugmentation(2);
        Assert.That(model.AugmentationParameters, Is.Not.Empty);
        model.Module.train();
        using var batch = model.Collate(RandomSamples(4, 16), CPU);
        var loss = model.Loss(model.ForwardAugmented(batch, 2), batch).Total;
        loss.backward();
        var tinyWeight = model.Network.Trunk[2].Matrix;
        var grad = model.Module.named_parameters().First(p => p.name == "mlp3.conv.weight").parameter.grad;
        Assert.That(grad, Is.Not.Null);
        Assert.That(grad!.abs().sum().item<float>(), Is.GreaterThan(0));
        Assert.That(tinyWeight.shape, Is.EqualTo(new long[] { 8, 8 }));
        model.DisableAugmentation();
        Assert.That(model.AugmentationParameters, Is.Empty);
        Assert.That(model.Module.parameters().Sum(p => p.numel()), Is.EqualTo(ownParameters));
    }

    [Test]
    public void A_small_pointnet_fits_a_few_shapes()
    {
        torch.manual_seed(0);
        var dataset = new ShapesDataset(new ShapesOptions { Classes = 4, TrainCount = 16, Points = 128, Augment = false }, Abstractions.Components.RunServices.ForTesting());
        using var model = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.25, NumPoints = 128, Dropout = 0 }, dataset.Info);
        var history = new Trainer(Abstractions.Components.RunServices.ForTesting()).Fit(model, dataset.GetSplit("train"),
            new TrainOptions { Epochs = 15, BatchSize = 8, LearningRate = 1e-2 });
        Assert.That(history.EpochLoss[^1], Is.LessThan(history.EpochLoss[0] * 0.5));
    }

    [Test]
    public void Resumed_training_on_augmented_shapes_with_dropout_ends_with_the_uninterrupted_weights()
    {
        // Augmentation drawn from each sample's read count and dropout drawn from torch's generator: both must go on
        // where the finished epochs left them.
        var services = Abstractions.Components.RunServices.ForTesting(3);
        var options = new TrainOptions { Epochs = 3, BatchSize = 8, LearningRate = 1e-2, CheckpointEvery = 1 };
        PointNetModel Model(ShapesDataset data) => new(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = 64, Dropout = 0.3 }, data.Info);
        ShapesDataset Data() => new(new ShapesOptions { Classes = 3, TrainCount = 12, Points = 64, Augment = true }, services);

        var whole = Platform.TestKit.TestPaths.NewTempDirectory("pointnet-resume-whole");
        torch.manual_seed(5);
        var data = Data();
        using var uninterrupted = Model(data);
        new Trainer(services).Fit(uninterrupted, data.GetSplit("train"), options, whole);

        var killed = Platform.TestKit.TestPaths.NewTempDirectory("pointnet-resume-killed");
        foreach (var file in Directory.GetFiles(whole).Where(f => Path.GetFileName(f).StartsWith("epoch-0001")))
            File.Copy(file, Path.Combine(killed, Path.GetFileName(file)));
        torch.manual_seed(77);
        var fresh = Data();
        using var resumed = Model(fresh);
        new Trainer(services).Fit(resumed, fresh.GetSplit("train"), new TrainOptions { Epochs = 3, BatchSize = 8, LearningRate = 1e-2, CheckpointEvery = 1, Resume = true }, killed);

        Assert.That(resumed.Module.parameters().Select(p => p.data<float>().ToArray()),
            Is.EqualTo(uninterrupted.Module.parameters().Select(p => p.data<float>().ToArray())));
    }
}
