using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Models.PointNet;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class PointNetReconstructionTests
{
    private static StepOutcome LampOnTinyPointNet(bool reconstruct, string variant)
    {
        Seeding.Seed(41);
        var info = new SyntheticPointDataset().Info;
        using Platform.Abstractions.Models.IModel model = variant == "pointnet2"
            ? new PointNet2SsgModel(new PointNet2SsgOptions { WidthMultiplier = 0.125, NumPoints = TinyPointModel.Points, Sa1Centroids = 16, Sa1Samples = 8, Sa2Centroids = 8, Sa2Samples = 8 }, info)
            : new PointNetModel(new PointNetOptions { WidthMultiplier = 0.125, NumPoints = TinyPointModel.Points, InputTransform = variant == "transforms", FeatureTransform = variant == "transforms" }, info);
        new Trainer(Platform.Abstractions.Components.RunServices.ForTesting(41)).Fit(model, new SyntheticPointDataset(41).GetSplit("train"),
            new TrainOptions { Epochs = 4, BatchSize = 8, LearningRate = 1e-2 });
        return new LampCompressor(new PruningOptions { FlopsReduction = 4, CalibrationSamples = 32, Reconstruct = reconstruct })
            .Run(TestPipeline.Context(model, seed: 41));
    }

    [TestCase("plain")]
    [TestCase("transforms")]
    [TestCase("pointnet2")]
    public void Lamp_with_reconstruction_refits_pointnet_layers_and_distorts_the_logits_less_than_lamp_alone(string variant)
    {
        var alone = LampOnTinyPointNet(reconstruct: false, variant);
        var rebuilt = LampOnTinyPointNet(reconstruct: true, variant);

        Assert.That(rebuilt.Metrics["reconstructedLayers"], Is.GreaterThan(0), "PointNet calls its conv and linear layers through call, so the hooks see their inputs");
        Assert.That(rebuilt.Metrics["distortionMeasuredBeforeReconstruction"], Is.EqualTo(alone.Metrics["distortionMeasuredBeforeBatchnorm"]).Within(1e-6),
            "the same masks before reconstruction");
        Assert.That(rebuilt.Metrics["distortionMeasured"], Is.LessThan(alone.Metrics["distortionMeasured"]));
        Assert.That(rebuilt.Notes, Has.None.Contains("reconstruction skipped"), "every pruned layer is reached");
    }
}
