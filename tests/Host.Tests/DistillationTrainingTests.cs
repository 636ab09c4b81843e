using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>The train step's distillation term (DistillWeight): pulls the model toward the pipeline's teacher, and refuses to run without a fitting one.</summary>
public class DistillationTrainingTests
{
    private static string Pipeline(string name, string model, string steps) => $$"""
        {
          "Pipeline": {
            "Name": "{{name}}", "Seed": 5, "Threads": 1, "Output": "$OUTPUT",
            "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 48, "ValCount": 8, "TestCount": 8, "Points": 64 } },
            "Model": { "Use": "{{model}}", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64, "InputTransform": false, "FeatureTransform": false, "Dropout": 0 } },
            "Steps": [ {{steps}} ]
          }
        }
        """;

    [Test]
    public void The_distillation_term_falls_as_a_fresh_model_learns_its_teachers_outputs()
    {
        var (teacherFile, teacherOutput) = HostRunner.WritePipeline(Pipeline("teacher", "pointnet", """
            { "Use": "train", "Options": { "Epochs": 2, "BatchSize": 16 } },
            { "Use": "save", "Options": { "Path": "$OUTPUT/teacher.ckpt" } }
            """));
        Assert.That(HostRunner.RunBuilt(teacherFile).ExitCode, Is.Zero);
        var teacher = Path.Combine(teacherOutput, "teacher.ckpt").Replace('\\', '/');

        // A student of another seed starts far from the teacher's outputs; a heavy distillation weight makes closing that
        // gap most of what training does.
        var (file, output) = HostRunner.WritePipeline(Pipeline("student", "pointnet", $$"""
            { "Use": "load", "Options": { "Path": "{{teacher}}", "Role": "Teacher" } },
            { "Use": "train", "Options": { "Epochs": 4, "BatchSize": 16, "DistillWeight": 100 } }
            """).Replace("\"Seed\": 5", "\"Seed\": 9"));
        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps")[1].GetProperty("metrics");
        var first = metrics.GetProperty("firstEpochLoss/distill").GetDouble();
        var last = metrics.GetProperty("lastEpochLoss/distill").GetDouble();
        Assert.That(first, Is.GreaterThan(0));
        Assert.That(last, Is.LessThan(first * 0.5), "the term the step adds is the one training reduces");
    }

    [Test]
    public void Distillation_without_a_teacher_is_refused_naming_the_option()
    {
        var (file, _) = HostRunner.WritePipeline(Pipeline("no-teacher", "pointnet", """{ "Use": "train", "Options": { "Epochs": 1, "DistillWeight": 1 } }"""));

        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.Not.Zero);
        Assert.That(run.Errors + run.Output, Does.Contain("DistillWeight").And.Contain("no teacher"));
    }
    [Test]
    public void Feature_imitation_on_a_model_without_stages_is_refused_naming_the_option()
    {
        var (teacherFile, teacherOutput) = HostRunner.WritePipeline(Pipeline("no-stages-teacher", "pointnet", """
            { "Use": "save", "Options": { "Path": "$OUTPUT/teacher.ckpt" } }
            """));
        Assert.That(HostRunner.RunBuilt(teacherFile).ExitCode, Is.Zero);
        var teacher = Path.Combine(teacherOutput, "teacher.ckpt").Replace('\\', '/');
        var (file, _) = HostRunner.WritePipeline(Pipeline("no-stages", "pointnet", $$"""
            { "Use": "load", "Options": { "Path": "{{teacher}}", "Role": "Teacher" } },
            { "Use": "train", "Options": { "Epochs": 1, "FeatureDistillWeight": 1 } }
            """));

        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.Not.Zero);
        Assert.That(run.Errors + run.Output, Does.Contain("Steps:1:Options:FeatureDistillWeight").And.Contain("does not run in stages"));
    }

    [TestCase("0")]
    [TestCase("0.5")]
    public void A_channel_pruned_detector_trains_with_feature_imitation_through_an_adaptor_into_its_teachers_channels(string attention)
    {
        var checkpoint = Path.Combine(TestPaths.RepoRoot, "models", "centerpoint-kitti-small.ckpt").Replace('\\', '/');
        var (file, output) = HostRunner.WritePipeline($$"""
            {
              "Pipeline": {
                "Name": "feature-imitation", "Seed": 0, "Threads": 1, "Output": "$OUTPUT",
                "Dataset": { "Use": "kitti", "Options": { "Root": "$OUTPUT/kitti", "Synthetic": true, "SyntheticTrainFrames": 4, "SyntheticValFrames": 2, "SyntheticTestFrames": 0 } },
                "Model": { "Use": "centerpoint", "Options": { "Preset": "kitti-small" } },
                "Steps": [
                  { "Use": "load", "Options": { "Path": "{{checkpoint}}" } },
                  { "Use": "load", "Options": { "Path": "{{checkpoint}}", "Role": "Teacher" } },
                  { "Use": "uniform-channels", "Options": { "FlopsReduction": 2 } },
                  { "Use": "train", "Options": { "Epochs": 1, "BatchSize": 2, "DistillWeight": 1, "DistillDistortion": "DetectionAware", "FeatureDistillWeight": 1, "FeatureDistillAttention": {{attention}} } }
                ]
              }
            }
            """);

        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps")[3].GetProperty("metrics");
        // The adaptor starts at the least-squares fit, so the term is a fraction of the teacher's mean square: above 0
        // (half the channels are gone), below 1 (what predicting zero scores).
        var feature = metrics.GetProperty("firstEpochLoss/feature").GetDouble();
        Assert.That(feature, Is.GreaterThan(0).And.LessThan(1));
        Assert.That(metrics.GetProperty("firstEpochLoss/distill").GetDouble(), Is.GreaterThan(0), "the output term runs beside it");
        // With attention the weight gathers on the BEV cells where the teacher's features are active.
        var attended = metrics.GetProperty("featureAttendedFraction").GetDouble();
        if (attention == "0") Assert.That(attended, Is.EqualTo(1));
        else Assert.That(attended, Is.GreaterThan(0).And.LessThan(0.9));
    }
}
