using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Host.Steps;

public sealed class LatencyStepOptions
{
    [Description("Split whose samples are fed to the model.")]
    public string Split { get; set; } = "val";

    [Description("Forward passes timed per repeat, each on a batch of BatchSize distinct samples (with batch size 1: the distinct samples timed).")]
    [Range(1, 10000)]
    public int Samples { get; set; } = 8;

    [Description("Samples per forward pass. 1: latency of one frame. Larger: throughput (an accelerator at batch 1 mostly waits for kernel launches); 'framesPerSecond' is BatchSize over the median forward time. Batches take the split's samples in order, wrapping around when it has fewer than Samples x BatchSize.")]
    [Range(1, 1024)]
    public int BatchSize { get; set; } = 1;

    [Description("Timed passes over those batches; the median time per forward pass is reported.")]
    [Range(1, 1000)]
    public int Repeats { get; set; } = 3;

    [Description("Untimed passes first (allocator and thread-pool warm-up).")]
    [Range(0, 1000)]
    public int Warmup { get; set; } = 1;

    [Description("Torch thread counts to time at, one after the other (e.g. [1, 2]); empty: the run's Threads. Metrics carry '/threads=N' for each; the unsuffixed ones are the first count's.")]
    public List<int> Threads { get; set; } = [];

    [Description("A checkpoint to time against (the dense model): loaded, and run beside the pipeline's model on each sample, first and second in turn, so both see the same machine load; 'speedup' is then its median forward time over the model's. Empty: speed-up against the run's first latency measurement.")]
    public string Reference { get; set; } = "";

    [Description("Also time one n x n float32 matmul at the first thread count and report its GFLOP/s ('matmulGflopsPerSecond'), the practical ceiling to read 'achievedGflopsPerSecond' against; 0: not timed.")]
    [Range(0, 16384)]
    public int MatmulSize { get; set; }
}

/// <summary>
/// Measures what FLOPs do not show: wall-clock forward latency with the dense kernels the model
/// runs on (masked weights are zeros, still multiplied), next to the FLOPs of each top-level part.
/// Collation (voxelisation and the like) and decoding (boxes from the outputs) are timed separately from the network.
/// </summary>
public sealed class LatencyStep(LatencyStepOptions options, RunServices services) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("measure-latency");
        var split = context.Split(options.Split);
        if (split.Count == 0) throw new InvalidOperationException($"split '{options.Split}' is empty.");
        var distinct = Enumerable.Range(0, (int)Math.Min((long)options.Samples * options.BatchSize, split.Count)).Select(split.Get).ToArray();
        var batches = options.BatchSize == 1
            ? distinct.Select(sample => new[] { sample }).ToArray()
            : Enumerable.Range(0, options.Samples)
                .Select(b => Enumerable.Range(0, options.BatchSize).Select(j => distinct[(b * options.BatchSize + j) % distinct.Length]).ToArray()).ToArray();
        model.Module.eval();
        using var _ = no_grad();

        var outcome = new StepOutcome();
        var threadCounts = options.Threads.Count > 0 ? options.Threads : [get_num_threads()];
        if (threadCounts.FirstOrDefault(t => t < 1 || t > Environment.ProcessorCount * 4) is var bad && bad != 0)
            throw new ArgumentException($"measure-latency option Threads: {bad} is not a thread count this machine can use (1 to {Environment.ProcessorCount * 4}).");
        var runThreads = get_num_threads();
        var input = new Dictionary<string, double>();
        double firstForward = double.NaN;
        using var referenceModel = options.Reference.Length == 0 ? null : LoadReference(context);
        try
        {
            foreach (var threads in threadCounts)
            {
                set_num_threads(threads);
                var (forward, collate, decode, referenceForward, cpuShare) = Time(model, referenceModel, batches, input);
                var suffix = $"/threads={threads}";
                outcome.Metrics["forwardMsMedian" + suffix] = forward * 1e3;
                outcome.Metrics["collateMsMedian" + suffix] = collate * 1e3;
                outcome.Metrics["decodeMsMedian" + suffix] = decode * 1e3;
                // Below the thread count when other work shares the cores: the wall times above are then inflated.
                outcome.Metrics["cpuShare" + suffix] = cpuShare;
                if (referenceModel is not null)
                {
                    // Interleaved with the model on every sample: both timed under the same load of the machine.
                    outcome.Metrics["referenceForwardMsMedian" + suffix] = referenceForward * 1e3;
                    outcome.Metrics["speedup" + suffix] = referenceForward / forward;
                }
                // Else against the run's first latency measurement at this thread count (the dense model, in a pipeline
                // that measures before and after compressing): both timed in one process, minutes apart.
                else if (context.ReferenceLatencies.TryGetValue(threads, out var reference))
                    outcome.Metrics["speedup" + suffix] = reference / forward;
                else
                    context.ReferenceLatencies[threads] = forward;
                if (!double.IsNaN(firstForward)) continue;
                firstForward = forward;
                outcome.Metrics["forwardMsMedian"] = forward * 1e3;
                outcome.Metrics["collateMsMedian"] = collate * 1e3;
                outcome.Metrics["totalMsMedian"] = (forward + collate) * 1e3;
                outcome.Metrics["decodeMsMedian"] = decode * 1e3;
                outcome.Metrics["endToEndMsMedian"] = (collate + forward + decode) * 1e3;
                outcome.Metrics["cpuShare"] = cpuShare;
                outcome.Metrics["batchSize"] = options.BatchSize;
                outcome.Metrics["framesPerSecond"] = options.BatchSize / forward;
                if (options.MatmulSize > 0) outcome.Metrics["matmulGflopsPerSecond"] = MatmulGflopsPerSecond(options.MatmulSize);
                if (outcome.Metrics.TryGetValue("speedup" + suffix, out var speedup)) outcome.Metrics["speedup"] = speedup;
                if (outcome.Metrics.TryGetValue("referenceForwardMsMedian" + suffix, out var referenceMs)) outcome.Metrics["referenceForwardMsMedian"] = referenceMs;
            }
        }
        finally
        {
            set_num_threads(runThreads);
        }
        foreach (var (key, value) in input) outcome.Metrics["input/" + key] = value;
        var stats = ModelStats.Measure(model);
        outcome.Metrics["achievedGflopsPerSecond"] = stats.DenseFlops * 2 * options.BatchSize / firstForward / 1e9;

        // FLOPs by top-level part of the network (the first segment of each layer's name).
        var parts = ModelStats.ByPart(model);
        foreach (var p in parts) outcome.Metrics[$"flops/{p.Name}"] = p.Flops;
        outcome.Tables.Add(new ReportTable("FLOPs by part (MACs per sample)", ["part", "dense MFLOPs", "now MFLOPs", "share of dense"],
            parts.Select(p => (IReadOnlyList<string>)[p.Name, (p.DenseFlops / 1e6).ToString("F2"), (p.Flops / 1e6).ToString("F2"), (p.DenseFlops / stats.DenseFlops).ToString("P1")]).ToList()));
        outcome.Notes.Add("Latency runs dense kernels: unstructured (masked) sparsity lowers the FLOPs count but not this time; removed channels (channel pruning) do. " +
                          (options.Reference.Length > 0 ? $"Speed-up: {options.Reference}'s median forward time over this model's, the two run on every sample, each going first on every other one. "
                              : "Speed-up: against the run's first latency measurement at the same thread count. ") + "GFLOP/s counts 2 FLOPs per dense multiply-accumulate. " +
                          "End-to-end: collation + forward + decoding (boxes or classes from the outputs). CPU share: CPU seconds per wall second while timing.");
        return outcome;
    }

    private IModel LoadReference(PipelineContext context)
    {
        IModel reference;
        try
        {
            reference = context.Components.LoadModel(options.Reference);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"measure-latency option Reference='{options.Reference}': {e.Message}", e);
        }
        reference.Module.to(services.Device);
        reference.Module.eval();
        return reference;
    }

    /// <summary>
    /// Median forward, collate and decode seconds per batch over the timed passes, the reference model's median forward,
    /// timed beside the model's on each batch, before it and after it in turn (NaN without one), and the CPU seconds the
    /// process got per wall second over the timed passes.
    /// </summary>
    private (double Forward, double Collate, double Decode, double ReferenceForward, double CpuShare) Time(IModel model, IModel? reference, Sample[][] batches, Dictionary<string, double> input)
    {
        var forward = new List<double>();
        var collate = new List<double>();
        var decode = new List<double>();
        var referenceForward = new List<double>();
        var describeInput = input.Count == 0;
        using var process = Process.GetCurrentProcess();
        var cpuAtStart = TimeSpan.Zero;
        var wall = new Stopwatch();
        for (var pass = 0; pass < options.Warmup + options.Repeats; pass++)
        {
            if (pass == options.Warmup)
            {
                process.Refresh();
                cpuAtStart = process.TotalProcessorTime;
                wall.Start();
            }
            for (var index = 0; index < batches.Length; index++)
            {
                var items = batches[index];
                using var scope = NewDisposeScope();
                // No collection during the native calls (TorchSharp's temporary scalars, Kit/NoGcRegion): the same for both models.
                using var quiet = NoGcRegion.Enter();
                var timed = pass >= options.Warmup;
                // With a reference, the two run in alternating order sample by sample (A B, B A, ...): running second
                // cost the second model about a tenth on a small-cache VM when the reference always went first.
                var referenceFirst = reference is null || AlternatingOrder.Of(pass * batches.Length + index, 2)[0] == 0;
                if (referenceFirst) TimeReference();
                var watch = Stopwatch.StartNew();
                using var batch = model.CollateInputs(items, services.Device);
                DeviceSync.Wait(services.Device);
                var collateSeconds = watch.Elapsed.TotalSeconds;
                watch.Restart();
                var output = model.Forward(batch);
                DeviceSync.Wait(services.Device);
                var forwardSeconds = watch.Elapsed.TotalSeconds;
                watch.Restart();
                model.Predict(output, batch);
                var decodeSeconds = watch.Elapsed.TotalSeconds;
                if (!referenceFirst) TimeReference();
                if (!timed) continue;
                if (describeInput && pass == options.Warmup && model is IDescribesInput describes)
                    foreach (var (key, value) in describes.DescribeInput(batch)) input[key] = input.GetValueOrDefault(key) + value / batches.Length;
                collate.Add(collateSeconds);
                forward.Add(forwardSeconds);
                decode.Add(decodeSeconds);

                void TimeReference()
                {
                    if (reference is null) return;
                    using var referenceBatch = reference.CollateInputs(items, services.Device);
                    var referenceWatch = Stopwatch.StartNew();
                    reference.Forward(referenceBatch);
                    DeviceSync.Wait(services.Device);
                    if (timed) referenceForward.Add(referenceWatch.Elapsed.TotalSeconds);
                }
            }
        }
        process.Refresh();
        var cpuShare = (process.TotalProcessorTime - cpuAtStart).TotalSeconds / wall.Elapsed.TotalSeconds;
        return (Quantiles.Median(forward), Quantiles.Median(collate), Quantiles.Median(decode), referenceForward.Count > 0 ? Quantiles.Median(referenceForward) : double.NaN, cpuShare);
    }

    /// <summary>GFLOP/s (2 n^3 per product) of an n x n float32 matmul: the median of five after one warm-up.</summary>
    private double MatmulGflopsPerSecond(int n)
    {
        using var a = randn(n, n, device: services.Device);
        using var b = randn(n, n, device: services.Device);
        var seconds = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            var watch = Stopwatch.StartNew();
            using var product = a.matmul(b);
            // On an accelerator the product is queued: reading one value waits for it.
            using var corner = product[0, 0];
            corner.item<float>();
            if (i > 0) seconds.Add(watch.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * (double)n / Quantiles.Median(seconds) / 1e9;
    }
}
