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
}
