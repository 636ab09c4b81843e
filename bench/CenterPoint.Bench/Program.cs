using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.CenterPoint;
using TorchSharp;
using static TorchSharp.torch;

// Usage: dotnet build bench/CenterPoint.Bench && dotnet bench/CenterPoint.Bench/bin/Debug/net10.0/CenterPoint.Bench.dll
//        [--threads 1] [--repeats 5] [--presets kitti-small,kitti] [--learn-frames 48 --learn-epochs 6] [--out bench/results]
// Measures, on this machine's CPU, per preset: forward latency per frame (median), dense MACs, achieved
// GFLOP/s (2 FLOPs per MAC), end-to-end latency (voxelize + forward + decode) and one training step of
// a batch of 4; and the GFLOP/s of one large float32 matmul as the practical ceiling.
var argsMap = args.Select((a, i) => (a, i)).Where(t => t.a.StartsWith("--")).ToDictionary(t => t.a[2..], t => t.i + 1 < args.Length ? args[t.i + 1] : "");
var repeats = int.Parse(argsMap.GetValueOrDefault("repeats", "5"), CultureInfo.InvariantCulture);
var outDir = argsMap.GetValueOrDefault("out", Path.Combine(FindRepoRoot(), "bench", "results"));
var presets = argsMap.GetValueOrDefault("presets", "kitti-small,kitti").Split(',');
var trainSteps = int.Parse(argsMap.GetValueOrDefault("train-steps", "3"), CultureInfo.InvariantCulture);
// Presets whose training step is timed (the full-size one takes minutes per step on a CPU).
var trainPresets = argsMap.GetValueOrDefault("train-presets", "kitti-small").Split(',');
// libtorch threads; on a shared machine one thread is often faster than two that spin-wait on each other.
if (argsMap.TryGetValue("threads", out var threads)) set_num_threads(int.Parse(threads, CultureInfo.InvariantCulture));
TorchRuntime.Initialize();

Seeding.Seed(0);
// KITTI's range, as the kitti dataset's options give it: CenterPoint reads its range from the DatasetInfo only.
var info = new DatasetInfo("synthetic-kitti", ModelTask.Detection3D, ["Car", "Pedestrian", "Cyclist"], 4, [0f, -39.68f, -3f, 69.12f, 39.68f, 1f]);
var frames = Enumerable.Range(0, 4).Select(i => SyntheticFrame.Make($"{i:D6}", i)).ToArray();
Console.WriteLine($"threads {get_num_threads()}, cores {Environment.ProcessorCount}, points per frame {frames[0].PointCount}");

var rows = new List<Dictionary<string, object>>();
var matmul = MatmulGflops(2048, repeats);
var matmulShare = Program.LastCpuShare;
Console.WriteLine($"matmul 2048x2048x2048 float32: {matmul.Median * 1e3:F1} ms, {matmul.Gflops:F1} GFLOP/s");
rows.Add(new() { ["setting"] = "matmul 2048^3 float32", ["device"] = "cpu", ["median_ms"] = Round(matmul.Median * 1e3), ["gflop"] = Round(2.0 * Math.Pow(2048, 3) / 1e9), ["gflops_per_s"] = Round(matmul.Gflops), ["forward_cpu_share"] = Round(matmulShare) });

foreach (var preset in presets)
{
    using var model = new CenterPointModel(CenterPointOptions.FromPreset(preset), info);
    var stats = ModelStats.Measure(model);
    model.Module.eval();
    double forward, endToEnd, forwardShare;
    using (no_grad())
    {
        using var one = model.Collate([frames[0]], CPU);
        forward = Median(repeats, () => { using var s = NewDisposeScope(); model.Forward(one); });
        forwardShare = Program.LastCpuShare;
        endToEnd = Median(repeats, () =>
        {
            using var s = NewDisposeScope();
            using var batch = model.Collate([frames[0]], CPU);
            model.Predict(model.Forward(batch), batch);
        });
    }
    var collate = Median(repeats, () => { using var s = NewDisposeScope(); using var b = model.Collate(frames, CPU); });
    // One optimiser step on a batch of 4, as the training loop does it.
    double train = double.NaN, trainShare = double.NaN;
    if (trainPresets.Contains(preset))
    {
        model.Module.train();
        var optimizer = optim.AdamW(model.Module.parameters(), 1e-3);
        train = Median(trainSteps, () =>
        {
            using var s = NewDisposeScope();
            using var batch = model.Collate(frames, CPU);
            optimizer.zero_grad();
            model.Loss(model.Forward(batch), batch).Total.backward();
            optimizer.step();
        });
        trainShare = Program.LastCpuShare;
    }
    var gflops = 2 * stats.DenseFlops / forward / 1e9;
    var c = model.Grid;
    Console.WriteLine($"{preset}: grid {c.GridX}x{c.GridY}, params {stats.Params:N0}, {stats.DenseFlops / 1e9:F2} GMAC, forward {forward * 1e3:F0} ms ({gflops:F1} GFLOP/s), end-to-end {endToEnd * 1e3:F0} ms, collate x4 {collate * 1e3:F0} ms, train step x4 {train * 1e3:F0} ms");
    rows.Add(new()
    {
        ["setting"] = $"centerpoint {preset}", ["device"] = "cpu", ["grid"] = $"{c.GridX}x{c.GridY}", ["params"] = stats.Params,
        ["gmac"] = Round(stats.DenseFlops / 1e9), ["median_ms"] = Round(forward * 1e3), ["gflops_per_s"] = Round(gflops),
        ["end_to_end_ms"] = Round(endToEnd * 1e3), ["forward_cpu_share"] = Round(forwardShare), ["train_step_batch4_ms"] = double.IsNaN(train) ? "not measured" : Round(train * 1e3),
        ["train_cpu_share"] = double.IsNaN(trainShare) ? "not measured" : Round(trainShare),
    });
}

// Optional: does kitti-small learn on this machine? Train on synthetic frames with the kit's Trainer and
// count Car centres found again on held-out frames (score >= 0.3, centre within 1 m).
Dictionary<string, object>? learning = null;
if (argsMap.TryGetValue("learn-frames", out var learnFramesText))
{
    var learnFrames = int.Parse(learnFramesText, CultureInfo.InvariantCulture);
    var learnEpochs = int.Parse(argsMap.GetValueOrDefault("learn-epochs", "8"), CultureInfo.InvariantCulture);
    var train = Enumerable.Range(100, learnFrames).Select(i => SyntheticFrame.Make($"{i:D6}", i)).ToArray();
    var heldOut = Enumerable.Range(10000, 16).Select(i => SyntheticFrame.Make($"{i:D6}", i)).ToArray();
    Seeding.Seed(0);
    using var model = new CenterPointModel(new CenterPointOptions(), info);
    var services = Platform.Abstractions.Components.RunServices.ForTesting();
    var history = new Trainer(services).Fit(model, new InMemorySampleSource("train", train), new TrainOptions { Epochs = learnEpochs, BatchSize = 4 });
    var predictions = Inference.Predict(model, new InMemorySampleSource("val", heldOut), services);
    int truth = 0, found = 0, predicted = 0, correct = 0;
    foreach (var (sample, prediction) in predictions)
    {
        var cars = sample.Boxes.Where(b => b.ClassId == 0).ToList();
        var confident = prediction.Boxes.Where(p => p.ClassId == 0 && p.Score >= 0.3f).ToList();
        static bool Near(Box3D a, Box3D b) => (a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y) <= 1;
        truth += cars.Count;
        found += cars.Count(c => confident.Any(p => Near(p, c)));
        predicted += confident.Count;
        correct += confident.Count(p => cars.Any(c => Near(p, c)));
    }
    learning = new()
    {
        ["train_frames"] = learnFrames, ["epochs"] = learnEpochs, ["train_seconds"] = Round(history.Seconds),
        ["loss_first_epoch"] = Round(history.EpochLoss[0]), ["loss_last_epoch"] = Round(history.EpochLoss[^1]),
        ["heldout_frames"] = heldOut.Length, ["car_recall"] = Round(truth == 0 ? 0 : (double)found / truth), ["car_precision"] = Round(predicted == 0 ? 0 : (double)correct / predicted),
    };
    Console.WriteLine("learning check: " + string.Join(", ", learning.Select(kv => $"{kv.Key} {kv.Value}")));
}

Directory.CreateDirectory(outDir);
var command = "dotnet build bench/CenterPoint.Bench && dotnet bench/CenterPoint.Bench/bin/Debug/net10.0/CenterPoint.Bench.dll " + string.Join(' ', args);
var date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
var md = new StringBuilder();
md.AppendLine("# CenterPoint: forward latency and achieved GFLOP/s (CPU)");
md.AppendLine();
md.AppendLine($"Command: `{command.Trim()}`  ");
md.AppendLine($"Date: {date}; machine: {Environment.ProcessorCount} cores, torch threads {get_num_threads()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; median of {repeats} runs (train step: {trainSteps}).  ");
md.AppendLine($"Input: one synthetic KITTI-like frame of {frames[0].PointCount} points (x forward, y left, z up; ground + boxes). FLOPs: dense multiply-accumulates from ModelStats (the pillar net counted at MaxPillars x MaxPointsPerPillar); GFLOP/s = 2 x MAC / forward time.");
md.AppendLine();
md.AppendLine("| setting | grid | params | GMAC | forward ms | GFLOP/s | CPU share | end-to-end ms | train step (batch 4) ms | CPU share |");
md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in rows)
    md.AppendLine($"| {r["setting"]} | {r.GetValueOrDefault("grid", "")} | {r.GetValueOrDefault("params", "")} | {r.GetValueOrDefault("gmac", r.GetValueOrDefault("gflop", ""))} | {r["median_ms"]} | {r["gflops_per_s"]} | {r["forward_cpu_share"]} | {r.GetValueOrDefault("end_to_end_ms", "")} | {r.GetValueOrDefault("train_step_batch4_ms", "")} | {r.GetValueOrDefault("train_cpu_share", "")} |");
md.AppendLine();
md.AppendLine("The matmul row's GMAC column holds its GFLOP (2n^3). CPU share: CPU seconds this process got per wall second while timing (the torch thread count when it had the cores to itself); the machine is shared, so wall times are inflated where it is lower.");
if (learning is not null)
{
    md.AppendLine();
    md.AppendLine("## Learning check (kitti-small, this generator's synthetic frames, not the KITTI plugin's set)");
    md.AppendLine();
    md.AppendLine($"Trained with the kit's Trainer (AdamW one-cycle, batch 4) on {learning["train_frames"]} frames for {learning["epochs"]} epochs in {learning["train_seconds"]} s; " +
                  $"loss {learning["loss_first_epoch"]} (first epoch) -> {learning["loss_last_epoch"]} (last). On {learning["heldout_frames"]} held-out frames, Cars with score >= 0.3 " +
                  $"and centre within 1 m: recall {learning["car_recall"]}, precision {learning["car_precision"]}. A proxy until the KITTI evaluator scores AP.");
}
AtomicFile.WriteAllText(Path.Combine(outDir, "centerpoint-latency.md"), md.ToString());
AtomicFile.WriteAllText(Path.Combine(outDir, "centerpoint-latency.json"), JsonSerializer.Serialize(new
{
    command = command.Trim(), date, cores = Environment.ProcessorCount, torch_threads = get_num_threads(), repeats, points_per_frame = frames[0].PointCount, rows, learning_check = learning,
}, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {Path.Combine(outDir, "centerpoint-latency.md")} and .json");

static double Round(double v) => Math.Round(v, 3);

static double Median(int repeats, Action action)
{
    action(); // warm-up
    var times = new List<double>();
    var process = Process.GetCurrentProcess();
    process.Refresh();
    var cpuBefore = process.TotalProcessorTime;
    var wall = Stopwatch.StartNew();
    for (var i = 0; i < repeats; i++)
    {
        var w = Stopwatch.StartNew();
        action();
        times.Add(w.Elapsed.TotalSeconds);
    }
    process.Refresh();
    // CPU time this process got over the wall time it took: below the thread count when others share the cores.
    LastCpuShare = (process.TotalProcessorTime - cpuBefore).TotalSeconds / wall.Elapsed.TotalSeconds;
    times.Sort();
    return times[times.Count / 2];
}

static (double Median, double Gflops) MatmulGflops(int n, int repeats)
{
    using var a = randn(n, n);
    using var b = randn(n, n);
    var median = Median(repeats, () => { using var c = a.matmul(b); });
    return (median, 2.0 * n * n * (double)n / median / 1e9);
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

internal partial class Program
{
    internal static double LastCpuShare;
}

/// <summary>A KITTI-like frame: ground returns thinning with range, and cars / pedestrians / cyclists as box surfaces.</summary>
internal static class SyntheticFrame
{
    public static Sample Make(string id, int seed)
    {
        var random = new Random(seed);
        var points = new List<float>();
        const float ground = -1.7f;
        // Ground: ~16k returns in the camera's field of view, denser near the sensor (uniform in range and bearing).
        for (var i = 0; i < 16000; i++)
        {
            var range = 2 + 68 * (float)random.NextDouble();
            var bearing = (float)(random.NextDouble() - 0.5) * MathF.PI / 2;
            points.AddRange([range * MathF.Cos(bearing), range * MathF.Sin(bearing), ground + (float)random.NextDouble() * 0.1f, (float)random.NextDouble()]);
        }
        var boxes = new List<Box3D>();
        (float L, float W, float H, int Class)[] kinds = [(3.9f, 1.6f, 1.56f, 0), (0.8f, 0.6f, 1.76f, 1), (1.76f, 0.6f, 1.73f, 2)];
        for (var k = 0; k < 12; k++)
        {
            var (l, w, h, cls) = kinds[k % 3 == 0 ? random.Next(3) : 0];
            var box = new Box3D(5 + 60 * (float)random.NextDouble(), -30 + 60 * (float)random.NextDouble(), ground + h / 2, l, w, h,
                (float)(random.NextDouble() * 2 * Math.PI - Math.PI), cls);
            if (boxes.Any(b => (b.X - box.X) * (b.X - box.X) + (b.Y - box.Y) * (b.Y - box.Y) < 25)) continue;   // keep objects apart
            boxes.Add(box);
            float c = MathF.Cos(box.Yaw), s = MathF.Sin(box.Yaw);
            for (var p = 0; p < 400; p++)
            {
                float u = (float)random.NextDouble() - 0.5f, v = (float)random.NextDouble() - 0.5f, z = (float)random.NextDouble() - 0.5f;
                switch (random.Next(5)) { case 0: u = 0.5f; break; case 1: u = -0.5f; break; case 2: v = 0.5f; break; case 3: v = -0.5f; break; default: z = 0.5f; break; }
                points.AddRange([box.X + c * u * l - s * v * w, box.Y + s * u * l + c * v * w, box.Z + z * h, 0.3f]);
            }
        }
        return new Sample { Id = id, Points = points.ToArray(), PointFeatures = 4, Boxes = boxes };
    }
}
