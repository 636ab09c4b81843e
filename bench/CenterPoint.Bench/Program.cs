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

// Usage: dotnet run --project bench/CenterPoint.Bench [-- --repeats 5 --out bench/results]
// Measures, on this machine's CPU, per preset: forward latency per frame (median), dense MACs, achieved
// GFLOP/s (2 FLOPs per MAC), end-to-end latency (voxelize + forward + decode) and one training step of
// a batch of 4; and the GFLOP/s of one large float32 matmul as the practical ceiling.
var argsMap = args.Select((a, i) => (a, i)).Where(t => t.a.StartsWith("--")).ToDictionary(t => t.a[2..], t => t.i + 1 < args.Length ? args[t.i + 1] : "");
var repeats = int.Parse(argsMap.GetValueOrDefault("repeats", "5"), CultureInfo.InvariantCulture);
var outDir = argsMap.GetValueOrDefault("out", Path.Combine(FindRepoRoot(), "bench", "results"));
var presets = argsMap.GetValueOrDefault("presets", "kitti-small,kitti").Split(',');
var trainSteps = int.Parse(argsMap.GetValueOrDefault("train-steps", "3"), CultureInfo.InvariantCulture);

Seeding.Seed(0);
var info = new DatasetInfo("synthetic-kitti", ModelTask.Detection3D, ["Car", "Pedestrian", "Cyclist"], 4, CenterPointConfig.KittiRange);
var frames = Enumerable.Range(0, 4).Select(i => SyntheticFrame.Make($"{i:D6}", i)).ToArray();
Console.WriteLine($"threads {get_num_threads()}, cores {Environment.ProcessorCount}, points per frame {frames[0].PointCount}");

if (argsMap.ContainsKey("profile"))
{
    using var model = new CenterPointModel(new CenterPointOptions { Preset = presets[0] }, info);
    var vox = new PillarVoxelizer(model.Config);
    var tgt = new GaussianHeatmapTarget(model.Config, 3);
    Console.WriteLine($"voxelize 1 frame {Median(repeats, () => { using var s = NewDisposeScope(); vox.Voxelize([frames[0].Points], 4); }) * 1e3:F1} ms");
    Console.WriteLine($"targets 1 frame {Median(repeats, () => tgt.Build(frames[0].Boxes)) * 1e3:F1} ms");
    model.Module.eval();
    using var nog = no_grad();
    foreach (var ch in new[] { 32, 64 })
    {
        using var conv = nn.Conv2d(ch, ch, 3, padding: 1, bias: false);
        using var x = randn(1, ch, 124, 108);
        var t = Median(repeats, () => { using var s = NewDisposeScope(); conv.forward(x); });
        Console.WriteLine($"conv {ch}->{ch} 3x3 on 124x108: {t * 1e3:F1} ms, {2.0 * ch * ch * 9 * 124 * 108 / t / 1e9:F1} GFLOP/s");
        using var xl = randn(4, ch, 124, 108);
        t = Median(repeats, () => { using var s = NewDisposeScope(); conv.forward(xl); });
        Console.WriteLine($"conv batch 4 {ch}->{ch} 3x3 on 124x108: {t * 1e3:F1} ms, {4 * 2.0 * ch * ch * 9 * 124 * 108 / t / 1e9:F1} GFLOP/s");
    }
    using var one = model.Collate([frames[0]], CPU);
    Console.WriteLine($"forward {Median(repeats, () => { using var s = NewDisposeScope(); model.Forward(one); }) * 1e3:F1} ms");
    return;
}
var rows = new List<Dictionary<string, object>>();
var matmul = MatmulGflops(2048, repeats);
Console.WriteLine($"matmul 2048x2048x2048 float32: {matmul.Median * 1e3:F1} ms, {matmul.Gflops:F1} GFLOP/s");
rows.Add(new() { ["setting"] = "matmul 2048^3 float32", ["device"] = "cpu", ["median_ms"] = Round(matmul.Median * 1e3), ["gflop"] = Round(2.0 * Math.Pow(2048, 3) / 1e9), ["gflops_per_s"] = Round(matmul.Gflops) });

foreach (var preset in presets)
{
    using var model = new CenterPointModel(new CenterPointOptions { Preset = preset }, info);
    var stats = ModelStats.Measure(model);
    model.Module.eval();
    double forward, endToEnd;
    using (no_grad())
    {
        using var one = model.Collate([frames[0]], CPU);
        forward = Median(repeats, () => { using var s = NewDisposeScope(); model.Forward(one); });
        endToEnd = Median(repeats, () =>
        {
            using var s = NewDisposeScope();
            using var batch = model.Collate([frames[0]], CPU);
            model.Predict(model.Forward(batch), batch);
        });
    }
    var collate = Median(repeats, () => { using var s = NewDisposeScope(); using var b = model.Collate(frames, CPU); });
    // One optimiser step on a batch of 4, as the training loop does it.
    model.Module.train();
    var optimizer = optim.AdamW(model.Module.parameters(), 1e-3);
    var train = Median(trainSteps, () =>
    {
        using var s = NewDisposeScope();
        using var batch = model.Collate(frames, CPU);
        optimizer.zero_grad();
        model.Loss(model.Forward(batch), batch).Total.backward();
        optimizer.step();
    });
    var gflops = 2 * stats.DenseFlops / forward / 1e9;
    var c = model.Config;
    Console.WriteLine($"{preset}: grid {c.GridX}x{c.GridY}, params {stats.Params:N0}, {stats.DenseFlops / 1e9:F2} GMAC, forward {forward * 1e3:F0} ms ({gflops:F1} GFLOP/s), end-to-end {endToEnd * 1e3:F0} ms, collate x4 {collate * 1e3:F0} ms, train step x4 {train * 1e3:F0} ms");
    rows.Add(new()
    {
        ["setting"] = $"centerpoint {preset}", ["device"] = "cpu", ["grid"] = $"{c.GridX}x{c.GridY}", ["params"] = stats.Params,
        ["gmac"] = Round(stats.DenseFlops / 1e9), ["median_ms"] = Round(forward * 1e3), ["gflops_per_s"] = Round(gflops),
        ["end_to_end_ms"] = Round(endToEnd * 1e3), ["train_step_batch4_ms"] = Round(train * 1e3),
    });
}

Directory.CreateDirectory(outDir);
var command = "dotnet run --project bench/CenterPoint.Bench -- " + string.Join(' ', args);
var date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
var md = new StringBuilder();
md.AppendLine("# CenterPoint: forward latency and achieved GFLOP/s (CPU)");
md.AppendLine();
md.AppendLine($"Command: `{command.Trim()}`  ");
md.AppendLine($"Date: {date}; machine: {Environment.ProcessorCount} cores, torch threads {get_num_threads()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; median of {repeats} runs (train step: {trainSteps}).  ");
md.AppendLine($"Input: one synthetic KITTI-like frame of {frames[0].PointCount} points (x forward, y left, z up; ground + boxes). FLOPs: dense multiply-accumulates from ModelStats (the pillar net counted at MaxPillars x MaxPointsPerPillar); GFLOP/s = 2 x MAC / forward time.");
md.AppendLine();
md.AppendLine("| setting | grid | params | GMAC | forward ms | GFLOP/s | end-to-end ms | train step (batch 4) ms |");
md.AppendLine("|---|---|---|---|---|---|---|---|");
foreach (var r in rows)
    md.AppendLine($"| {r["setting"]} | {r.GetValueOrDefault("grid", "")} | {r.GetValueOrDefault("params", "")} | {r.GetValueOrDefault("gmac", r.GetValueOrDefault("gflop", ""))} | {r["median_ms"]} | {r["gflops_per_s"]} | {r.GetValueOrDefault("end_to_end_ms", "")} | {r.GetValueOrDefault("train_step_batch4_ms", "")} |");
md.AppendLine();
md.AppendLine("The matmul row's GMAC column holds its GFLOP (2n^3). The machine is shared, so timings vary from run to run.");
AtomicFile.WriteAllText(Path.Combine(outDir, "centerpoint.md"), md.ToString());
AtomicFile.WriteAllText(Path.Combine(outDir, "centerpoint.json"), JsonSerializer.Serialize(new
{
    command = command.Trim(), date, cores = Environment.ProcessorCount, torch_threads = get_num_threads(), repeats, points_per_frame = frames[0].PointCount, rows,
}, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {Path.Combine(outDir, "centerpoint.md")} and .json");

static double Round(double v) => Math.Round(v, 3);

static double Median(int repeats, Action action)
{
    action(); // warm-up
    var times = new List<double>();
    for (var i = 0; i < repeats; i++)
    {
        var w = Stopwatch.StartNew();
        action();
        times.Add(w.Elapsed.TotalSeconds);
    }
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
