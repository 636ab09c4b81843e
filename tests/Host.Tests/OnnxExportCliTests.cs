using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// The ONNX plugin through the real `platform` program: the plugin loads with its native ONNX Runtime beside it (McMaster's
/// load context), the step writes a file ONNX Runtime runs, and a path outside the output root is refused up front.
/// </summary>
public class OnnxExportCliTests
{
    private static string Pipeline(string steps) => $$"""
        {
          "Pipeline": {
            "Name": "onnx", "Seed": 3, "Threads": 1, "Output": "$OUTPUT",
            "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 32, "ValCount": 8, "TestCount": 8, "Points": 64 } },
            "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64 } },
            "Steps": [ {{steps}} ]
          }
        }
        """;

    [Test]
    public void A_channel_pruned_model_is_written_checked_and_runs_in_ONNX_Runtime()
    {
        var (file, output) = HostRunner.WritePipeline(Pipeline("""
            { "Use": "train", "Options": { "Epochs": 1, "BatchSize": 16 } },
            { "Use": "uniform-channels", "Options": { "FlopsReduction": 2, "CalibrationSamples": 16 } },
            { "Use": "export-onnx", "Options": { "Path": "$OUTPUT/small.onnx", "Samples": 3, "TimeThreads": [1], "Repeats": 1, "Warmup": 0 } }
            """));

        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var step = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps")[2];
        var metrics = step.GetProperty("metrics");
        Assert.That(metrics.GetProperty("maxRelativeDifference").GetDouble(), Is.LessThanOrEqualTo(1e-4));
        Assert.That(metrics.GetProperty("checkedBatches").GetDouble(), Is.EqualTo(3));
        Assert.That(metrics.GetProperty("onnxRuntimeMsMedian/threads=1").GetDouble(), Is.GreaterThan(0));
        var path = Path.Combine(output, "small.onnx");
        Assert.That(new FileInfo(path).Length, Is.EqualTo(metrics.GetProperty("bytes").GetDouble()));
        Assert.That(Directory.GetFiles(output, ".small.onnx.*"), Is.Empty, "the temporary file is gone");
        // The file stands on its own: a fresh session reads points in and gives 4 logits per shape.
        using var session = new InferenceSession(path);
        Assert.That(session.InputMetadata["points"].Dimensions, Is.EqualTo(new[] { -1, 3, -1 }));
        using var points = OrtValue.CreateTensorValueFromMemory(new float[2 * 3 * 64], [2, 3, 64]);
        using var results = session.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["points"] = points }, ["logits"]);
        Assert.That(results[0].GetTensorTypeAndShape().Shape, Is.EqualTo(new long[] { 2, 4 }));
    }

    [Test]
    public void An_export_path_outside_the_output_root_is_refused_before_training_with_one_message()
    {
        var outside = Path.Combine(Path.GetTempPath(), $"not-in-root-{Guid.NewGuid():N}.onnx");
        var (file, output) = HostRunner.WritePipeline(Pipeline($$"""
            { "Use": "train", "Options": { "Epochs": 1 } },
            { "Use": "export-onnx", "Options": { "Path": "{{outside.Replace('\\', '/')}}" } }
            """));

        var run = HostRunner.RunBuilt(file);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Errors, Does.Contain("Pipeline:Steps:1:Options:Path").And.Contain("outside the output root"));
        Assert.That(run.Errors, Does.Not.Contain("Exception"));
        Assert.That(File.Exists(outside), Is.False);
        Assert.That(Directory.Exists(Path.Combine(output, "00-train-checkpoints")), Is.False, "refused before training");
    }
}
