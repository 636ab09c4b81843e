using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.PointNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Models.PointNet.Tests;

public class PointNet2SsgTests
{
    private static readonly DatasetInfo TwoClasses = new("test", ModelTask.Classification, ["a", "b"], 3);

    // Width 1/64: SA1 mlp (1, 1, 2), SA2 (2, 2, 4), SA3 (4, 8, 16), head 8, 4, 2. 16 points, 8x4 then 4x4 groups.
    internal static PointNet2SsgOptions Small => new()
    {
        WidthMultiplier = 1.0 / 64, NumPoints = 16, Sa1Centroids = 8, Sa1Samples = 4, Sa1Radius = 0.5, Sa2Centroids = 4, Sa2Samples = 4, Sa2Radius = 1,
    };

    [Test]
    public void Flops_count_grouped_mlp_weights_once_per_centroid_and_neighbour()
    {
        using var model = new PointNet2SsgModel(Small, TwoClasses);
        var stats = ModelStats.Measure(model);
        const double sa1 = 8 * 4 * (3 * 1 + 1 * 1 + 1 * 2);          // local xyz in
        const double sa2 = 4 * 4 * ((2 + 3) * 2 + 2 * 2 + 2 * 4);    // SA1 features + local xyz in
        const double sa3 = 4 * ((4 + 3) * 4 + 4 * 8 + 8 * 16);       // one group of all 4 SA2 centroids
        const double head = 16 * 8 + 8 * 4 + 4 * 2;
        Assert.That(stats.PrunableFlops, Is.EqualTo(sa1 + sa2 + sa3 + head));
        Assert.That(model.OtherFlopsPerSample, Is.EqualTo(2 * 3 * (8 * 16 + 4 * 8)));
    }

    [Test]
    public void Forward_gives_class_logits_and_training_reduces_the_loss()
    {
        torch.manual_seed(0);
        var options = Small;
        options.WidthMultiplier = 0.25;
        using var model = new PointNet2SsgModel(options, TwoClasses);
        var samples = PointNetModelTests.RandomSamples(8, 16);
        using var batch = model.Collate(samples, CPU);
        model.Module.eval();
        using (no_grad())
            Assert.That(model.Forward(batch)["logits"].shape, Is.EqualTo(new long[] { 8, 2 }));
        var history = new Trainer(Abstractions.Components.RunServices.ForTesting()).Fit(model, new InMemorySampleSource("train", samples),
            new TrainOptions { Epochs = 12, BatchSize = 8, LearningRate = 1e-2 });
        Assert.That(history.EpochLoss[^1], Is.LessThan(history.EpochLoss[0]));
    }

    // Network augmentation (T3DNet's stage 1 on its paper's backbone). Width 1/8: SA1 (8, 8, 16), SA2 (16, 16, 32),
    // SA3 (32, 64, 128), head 64, 32, then the 2 classes.
    private static PointNet2SsgModel Augmentable(double dropout = 0.4)
    {
        var options = Small;
        options.WidthMultiplier = 0.125;
        options.Dropout = dropout;
        return new PointNet2SsgModel(options, TwoClasses);
    }

    [Test]
    public void Every_augmented_weight_holds_the_tiny_weight_as_its_leading_slice_and_each_level_reads_its_coordinates_first()
    {
        torch.manual_seed(0);
        using var model = Augmentable();
        model.EnableAugmentation(2);
        var augmentation = model.Augmentation!;
        var trunk = ((PointNet2SsgNetwork)model.Module).Trunk;
        Assert.That(trunk, Has.Count.EqualTo(12));
        // Rows double except the classifier's; the first layer of SA2 and SA3 reads 3 local coordinates, then the doubled
        // features of the level before; the first layer reads the raw xyz.
        long[] tinyIn = [3, 8, 8, 19, 16, 16, 35, 32, 64, 128, 64, 32];
        long[] wideIn = [3, 16, 16, 35, 32, 32, 67, 64, 128, 256, 128, 64];
        for (var i = 0; i < trunk.Count; i++)
        {
            var tiny = trunk[i].Matrix;
            var wide = augmentation.Weight(i, 2);
            Assert.That(tiny.shape[1], Is.EqualTo(tinyIn[i]), $"layer {i}: tiny columns");
            Assert.That(wide.shape, Is.EqualTo(new[] { i == trunk.Count - 1 ? 2 : 2 * tiny.shape[0], wideIn[i] }), $"layer {i}: augmented shape");
            var slice = wide[TensorIndex.Slice(0, tiny.shape[0]), TensorIndex.Slice(0, tiny.shape[1])];
            Assert.That(slice.equal(tiny).all().item<bool>(), $"layer {i}: the leading slice differs from the tiny weight");
        }
    }

    [Test]
    public void The_augmented_network_at_width_factor_one_is_the_tiny_network()
    {
        torch.manual_seed(0);
        using var model = Augmentable(dropout: 0);
        model.EnableAugmentation(2.6);
        model.Module.train();
        using var batch = model.Collate(PointNetModelTests.RandomSamples(4, 16), CPU);
        var tiny = model.Forward(batch)["logits"];
        var augmented = model.ForwardAugmented(batch, 1)["logits"];
        Assert.That(augmented.allclose(tiny, rtol: 1e-4, atol: 1e-5), Is.True);
        // A wider pass computes something else from the same tiny weights.
        Assert.That(model.ForwardAugmented(batch, 2.6)["logits"].allclose(tiny, rtol: 1e-2, atol: 1e-3), Is.False);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardAugmented(batch, 3));
        // Per-layer factors (NetAug): each set-abstraction layer reads its predecessor's width, whatever it drew.
        var mixed = Enumerable.Range(0, model.AugmentedLayerCount).Select(i => i % 3 == 0 ? 2.6 : i % 3 == 1 ? 1.0 : 1.8).ToArray();
        var perLayer = model.ForwardAugmented(batch, mixed)["logits"];
        Assert.That(perLayer.shape, Is.EqualTo(tiny.shape));
        Assert.That(perLayer.allclose(tiny, rtol: 1e-2, atol: 1e-3), Is.False);
    }

    [Test]
    public void The_augmented_loss_trains_the_tiny_weights_of_every_level_and_disabling_leaves_only_the_tiny_parameters()
    {
        torch.manual_seed(0);
        using var model = Augmentable();
        var ownParameters = model.Module.parameters().Sum(p => p.numel());
        model.EnableAugmentation(2);
        model.Module.train();
        using var batch = model.Collate(PointNetModelTests.RandomSamples(4, 16), CPU);
        model.Loss(model.ForwardAugmented(batch, 2), batch).Total.backward();
        foreach (var name in new[] { "sa1.mlp.mlp1.conv.weight", "sa2.mlp.mlp1.conv.weight", "sa3.mlp.mlp3.conv.weight", "fc1.linear.weight" })
        {
            var grad = model.Module.named_parameters().Single(p => p.name == name).parameter.grad;
            Assert.That(grad is not null && grad.abs().sum().item<float>() > 0, name);
        }
        Assert.That(model.AugmentationParameters.All(p => p.grad is not null), "every augmentation weight takes part");
        model.DisableAugmentation();
        Assert.That(model.AugmentationParameters, Is.Empty);
        Assert.That(model.Module.parameters().Sum(p => p.numel()), Is.EqualTo(ownParameters));
    }
}
