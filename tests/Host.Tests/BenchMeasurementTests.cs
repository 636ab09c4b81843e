using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>The figures the bench files read from the host's own steps (issue 16: benchmarks are pipelines).</summary>
public class BenchMeasurementTests
{
    [Test]
    public void Latency_splits_end_to_end_time_into_collation_forward_and_decoding_and_train_reports_seconds_per_step()
    {
        var (file, output) = HostRunner.WritePipeline("""
            {
              "Pipeline": {
                "Name": "measurements", "Seed": 0, "Threads": 1, "Output": "$OUTPUT",
                "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 40, "ValCount": 8, "TestCount": 4, "Points": 64 } },
                "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64, "InputTransform": false, "FeatureTransform": false } },
                "Steps": [
                  { "Use": "measure-latency", "Options": { "Samples": 2, "Repeats": 2, "MatmulSize": 64 } },
                  { "Use": "train", "Options": { "Epochs": 2, "BatchSize": 16, "MaxSamples": 32 } }
                ]
              }
            }
            """);
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.BuiltPlugins);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var steps = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps");
        double Metric(int step, string name) => steps[step].GetProperty("metrics").GetProperty(name).GetDouble();

        Assert.That(Metric(0, "endToEndMsMedian"), Is.EqualTo(Metric(0, "collateMsMedian") + Metric(0, "forwardMsMedian") + Metric(0, "decodeMsMedian")).Within(1e-9));
        Assert.That(Metric(0, "decodeMsMedian"), Is.GreaterThan(0));
        Assert.That(Metric(0, "cpuShare"), Is.GreaterThan(0));
        Assert.That(Metric(0, "matmulGflopsPerSecond"), Is.GreaterThan(0));
        // 32 samples in batches of 16: two optimiser steps per epoch, two epochs.
        Assert.That(Metric(1, "secondsPerStep"), Is.EqualTo(Metric(1, "trainSeconds") / 4).Within(1e-9));
    }
}
