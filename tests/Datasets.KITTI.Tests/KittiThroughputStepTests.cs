using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class KittiThroughputStepTests
{
    private sealed class NoComponents : IComponentFactory
    {
        public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) => throw new NotSupportedException();
        public IModel LoadModel(string checkpointPath) => throw new NotSupportedException();
    }

    [Test]
    public void Each_stage_of_the_data_path_reports_its_rate_and_what_a_frame_holds()
    {
        var parent = TestPaths.NewTempDirectory("kitti-throughput");
        var root = Path.Combine(parent, "synth");
        SyntheticKittiScenes.GenerateTree(root, new SyntheticSplits(0, 2, 0), 3, NullProgressReporter.Instance);
        var services = RunServices.ForTesting(outputDirectory: parent);
        var context = new PipelineContext(services, new KittiDataset(new KittiOptions { Root = root }, services), new NoComponents());

        var outcome = new KittiThroughputStep(new KittiThroughputOptions
        {
            MinFramesPerPass = 5, Passes = 1, GenerationFrames = 1, EvaluationFramesRepeatedTo = 4,
        }, services).Run(context);

        var m = outcome.Metrics;
        Assert.That(m["frames"], Is.EqualTo(2));
        foreach (var stage in new[] { "generation", "readBytes", "readCrop", "evaluation", "evaluationRepeated" })
            Assert.That(m[stage + "/framesPerSecond"], Is.GreaterThan(0), stage);
        // A scan is 16 bytes per point; the reader's crop keeps some of them (the camera's view, the range).
        var scanBytes = Directory.GetFiles(Path.Combine(root, "training", "velodyne")).Sum(f => new FileInfo(f).Length);
        Assert.That(m["readBytes/pointsPerFrame"], Is.EqualTo(scanBytes / 16.0 / 2).Within(1e-9));
        Assert.That(m["readCrop/pointsPerFrame"], Is.GreaterThan(0).And.LessThanOrEqualTo(m["readBytes/pointsPerFrame"]));
        Assert.That(m.Keys, Has.None.StartsWith("readCropCollate"), "no model, no collation");
        Assert.That(outcome.Notes, Has.Some.Contains("No model"));
    }
}
