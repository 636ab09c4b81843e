using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// The committed default model (models/centerpoint-kitti-small.ckpt) still loads into the current CenterPoint and
/// still detects: a change to the checkpoint layout or to the model that breaks it fails here, and the checkpoint is
/// regenerated in the same change (pipelines/train-centerpoint.json; models/README.md).
/// </summary>
public class ShippedModelTests
{
    private static string Repo => TestPaths.RepoRoot;

    [Test]
    public void The_committed_default_model_loads_and_scores_its_recorded_AP_on_the_first_val_frames()
    {
        var plugins = Path.Combine(Repo, "artifacts", "plugins");
        Assert.That(Directory.Exists(Path.Combine(plugins, "Models.CenterPoint")), "the solution's plugins are built into artifacts/plugins (dotnet build Platform.sln)");
        var checkpoint = Path.Combine(Repo, "models", "centerpoint-kitti-small.ckpt").Replace("\\", "/");
        // The first 24 val frames of the default synthetic set: frames 400-423 (train comes first and is 400 frames).
        var (file, output) = HostRunner.WritePipeline($$"""
            {
              "Pipeline": {
                "Name": "shipped-model", "Seed": 0, "Threads": 1, "Output": "$OUTPUT",
                "Dataset": { "Use": "kitti", "Options": { "Root": "$OUTPUT/../kitti", "Synthetic": true, "SyntheticTrainFrames": 400, "SyntheticValFrames": 24, "SyntheticTestFrames": 0 } },
                "Model": { "Use": "centerpoint", "Options": { "Preset": "kitti-small" } },
                "Steps": [
                  { "Use": "load", "Options": { "Path": "{{checkpoint}}" } },
                  { "Use": "evaluate", "Options": { "Split": "val", "Resamples": 0 } }
                ]
              }
            }
            """);
        var result = HostRunner.Run("run", file, "--plugins", plugins);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var metrics = report.RootElement.GetProperty("steps")[1].GetProperty("metrics");
        Assert.That(metrics.GetProperty("samples").GetDouble(), Is.EqualTo(24));
        // Recorded when the checkpoint was committed (models/README.md); a float-summation difference between CPUs
        // moves a score in its last bits, not AP by a point.
        Assert.That(metrics.GetProperty("Car/3d/moderate/R40").GetDouble(), Is.EqualTo(ExpectedCar3dModerate).Within(1.0));
        Assert.That(metrics.GetProperty("mAP/bev/moderate/R40").GetDouble(), Is.EqualTo(ExpectedMapBevModerate).Within(1.0));
        Assert.That(report.RootElement.GetProperty("steps")[0].GetProperty("provenance").GetProperty("checkpointSha256").GetString(),
            Is.EqualTo(File.ReadAllText(Path.Combine(Repo, "models", "centerpoint-kitti-small.ckpt.sha256")).Split(' ')[0].Trim()));
    }

    private const double ExpectedCar3dModerate = 49.40;
    private const double ExpectedMapBevModerate = 33.11;
}
