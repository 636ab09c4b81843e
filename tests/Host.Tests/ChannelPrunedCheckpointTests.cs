using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// A channel-pruned model is a smaller architecture: its checkpoint must rebuild it by itself in a process that never saw
/// the pruning (issue 12). Both runs go through the real `platform` program and the solution's built plugins.
/// </summary>
public class ChannelPrunedCheckpointTests
{
    private static string Pipeline(string name, string steps) => $$"""
        {
          "Pipeline": {
            "Name": "{{name}}", "Seed": 3, "Threads": 1, "Output": "$OUTPUT",
            "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 64, "ValCount": 48, "TestCount": 8, "Points": 64 } },
            "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64, "InputTransform": false, "FeatureTransform": false } },
            "Steps": [ {{steps}} ]
          }
        }
        """;

    private static JsonElement RunInNewProcess(string pipelineFile, string output)
    {
        var run = HostRunner.RunBuilt(pipelineFile);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.Clone();
    }

    [Test]
    public void A_channel_pruned_checkpoint_loads_in_a_fresh_process_as_the_smaller_model_with_the_same_accuracy()
    {
        var (pruneFile, pruneOutput) = HostRunner.WritePipeline(Pipeline("prune", """
            { "Use": "train", "Options": { "Epochs": 2, "BatchSize": 16 } },
            { "Use": "uniform-channels", "Options": { "FlopsReduction": 2.5, "CalibrationSamples": 16 } },
            { "Use": "evaluate", "Options": { "Split": "val", "Resamples": 0 } },
            { "Use": "save", "Options": { "Path": "$OUTPUT/pruned.ckpt" } }
            """));
        var pruned = RunInNewProcess(pruneFile, pruneOutput);
        var checkpoint = Path.Combine(pruneOutput, "pruned.ckpt").Replace("\\", "/");

        var (loadFile, loadOutput) = HostRunner.WritePipeline(Pipeline("load", $$"""
            { "Use": "load", "Options": { "Path": "{{checkpoint}}" } },
            { "Use": "evaluate", "Options": { "Split": "val", "Resamples": 0 } }
            """));
        var loaded = RunInNewProcess(loadFile, loadOutput);

        var dense = pruned.GetProperty("steps")[0].GetProperty("model");
        var small = pruned.GetProperty("steps")[2].GetProperty("model");
        var reloaded = loaded.GetProperty("steps")[1].GetProperty("model");
        Assert.That(small.GetProperty("params").GetDouble(), Is.LessThan(dense.GetProperty("params").GetDouble()));
        Assert.That(reloaded.GetProperty("params").GetDouble(), Is.EqualTo(small.GetProperty("params").GetDouble()), "the load rebuilt the pruned widths");
        Assert.That(reloaded.GetProperty("flops").GetDouble(), Is.EqualTo(small.GetProperty("flops").GetDouble()));
        foreach (var metric in new[] { "accuracy", "meanClassAccuracy" })
            Assert.That(loaded.GetProperty("steps")[1].GetProperty("metrics").GetProperty(metric).GetDouble(),
                Is.EqualTo(pruned.GetProperty("steps")[2].GetProperty("metrics").GetProperty(metric).GetDouble()), metric);
    }

    [Test]
    public void Latency_against_a_reference_checkpoint_times_both_and_reports_their_ratio()
    {
        var folder = TestPaths.NewTempDirectory("latency-reference").Replace("\\", "/");
        var (file, output) = HostRunner.WritePipeline(Pipeline("latency", $$"""
            { "Use": "save", "Options": { "Path": "{{folder}}/dense.ckpt" } },
            { "Use": "uniform-channels", "Options": { "FlopsReduction": 3, "CalibrationSamples": 8 } },
            { "Use": "measure-latency", "Options": { "Split": "val", "Samples": 4, "Repeats": 2, "Threads": [1], "Reference": "{{folder}}/dense.ckpt" } },
            { "Use": "measure-latency", "Options": { "Split": "val", "Samples": 2, "Repeats": 1, "Threads": [1], "BatchSize": 3, "Reference": "{{folder}}/dense.ckpt" } }
            """));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.BuiltPlugins);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps")[2].GetProperty("metrics");
        double Metric(string name) => metrics.GetProperty(name).GetDouble();
        Assert.That(Metric("speedup/threads=1"), Is.EqualTo(Metric("referenceForwardMsMedian/threads=1") / Metric("forwardMsMedian/threads=1")).Within(1e-9));
        Assert.That(Metric("speedup"), Is.EqualTo(Metric("speedup/threads=1")));
        Assert.That(Metric("referenceForwardMsMedian"), Is.EqualTo(Metric("referenceForwardMsMedian/threads=1")), "the first thread count's, unsuffixed, as forwardMsMedian");
        Assert.That(Metric("batchSize"), Is.EqualTo(1));
        Assert.That(Metric("framesPerSecond"), Is.EqualTo(1000 / Metric("forwardMsMedian")).Within(1e-9));
        // Throughput: three samples per forward pass, so frames per second is three over the batch's median time.
        var batched = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))).RootElement.GetProperty("steps")[3].GetProperty("metrics");
        Assert.That(batched.GetProperty("batchSize").GetDouble(), Is.EqualTo(3));
        Assert.That(batched.GetProperty("framesPerSecond").GetDouble(), Is.EqualTo(3000 / batched.GetProperty("forwardMsMedian").GetDouble()).Within(1e-9));
        Assert.That(batched.GetProperty("speedup").GetDouble(), Is.GreaterThan(0));

        var (missing, _) = HostRunner.WritePipeline(Pipeline("latency-missing", """
            { "Use": "measure-latency", "Options": { "Split": "val", "Samples": 2, "Reference": "/nonexistent/dense.ckpt" } }
            """));
        var refused = HostRunner.Run("run", missing, "--plugins", SamplePluginBuild.BuiltPlugins);
        Assert.That(refused.ExitCode, Is.Not.Zero);
        Assert.That(refused.Errors + refused.Output, Does.Contain("/nonexistent/dense.ckpt"));
    }
}
