using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>The evaluate step's bootstrap intervals, through a real pipeline with the solution's plugins (PointNet on procedural shapes).</summary>
public class EvaluationIntervalTests
{
    private static string BuiltPlugins => Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins");

    [Test]
    public void Evaluations_report_intervals_and_a_later_one_a_paired_interval_of_its_change()
    {
        Assert.That(Directory.Exists(Path.Combine(BuiltPlugins, "Models.PointNet")), "the solution's plugins are built into artifacts/plugins (dotnet build Platform.sln)");
        var (file, output) = HostRunner.WritePipeline("""
            {
              "Pipeline": {
                "Name": "intervals", "Seed": 2, "Threads": 1, "Output": "$OUTPUT",
                "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 64, "ValCount": 120, "TestCount": 4, "Points": 64 } },
                "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64 } },
                "Steps": [
                  { "Use": "train", "Options": { "Epochs": 2, "BatchSize": 16 } },
                  { "Use": "evaluate", "Options": { "Resamples": 300 } },
                  { "Use": "random-drop", "Options": { "KeepRatio": 0.25 } },
                  { "Use": "evaluate", "Options": { "Resamples": 300 } }
                ]
              }
            }
            """);
        var result = HostRunner.Run("run", file, "--plugins", BuiltPlugins);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        double M(int step, string name) => report.RootElement.GetProperty("steps")[step].GetProperty("metrics").GetProperty(name).GetDouble();
        foreach (var step in new[] { 1, 3 })
        {
            Assert.That(M(step, "accuracy/lo"), Is.LessThanOrEqualTo(M(step, "accuracy")));
            Assert.That(M(step, "accuracy/hi"), Is.GreaterThanOrEqualTo(M(step, "accuracy")));
            // 120 shapes: a 95 % interval of an accuracy p is about +-1.96 sqrt(p(1-p)/120), at most +-9 points.
            Assert.That(M(step, "accuracy/hi") - M(step, "accuracy/lo"), Is.InRange(0.5, 20.0));
        }
        Assert.That(report.RootElement.GetProperty("steps")[1].GetProperty("metrics").TryGetProperty("accuracy/delta", out _), Is.False, "the first evaluation is the reference");
        Assert.That(M(3, "accuracy/delta"), Is.EqualTo(M(3, "accuracy") - M(1, "accuracy")).Within(1e-9));
        Assert.That(M(3, "accuracy/delta/lo"), Is.LessThanOrEqualTo(M(3, "accuracy/delta")));
        Assert.That(M(3, "accuracy/delta/hi"), Is.GreaterThanOrEqualTo(M(3, "accuracy/delta")));
        Assert.That(File.ReadAllText(Path.Combine(output, "report.md")), Does.Contain("paired interval").And.Contain("change vs step 1"));
    }
}
