using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Datasets.KITTI;
using static TorchSharp.torch;

// Usage: Kitti.Bench [--root DIR] [--frames N] [--seed S] [--out bench/results] [--real DIR]
// Generates (once) a synthetic KITTI-format set of N frames at --root, then measures on its val split:
// raw reads of the scan bytes, read + crop, read + crop + pillar voxelization, and the KITTI AP evaluation.
var arguments = ParseArguments(args);
var root = Path.GetFullPath(arguments.GetValueOrDefault("root", Path.Combine(Path.GetTempPath(), "kitti-bench-synth")));
var frames = int.Parse(arguments.GetValueOrDefault("frames", "500"), CultureInfo.InvariantCulture);
var seed = int.Parse(arguments.GetValueOrDefault("seed", "0"), CultureInfo.InvariantCulture);
var outDir = Path.GetFullPath(arguments.GetValueOrDefault("out", Path.Combine(FindRepoRoot(), "bench", "results")));
var real = arguments.GetValueOrDefault("real", Path.Combine(FindRepoRoot(), "..", "shared", "data", "kitti-sample"));
var command = "dotnet run --no-build --project bench/Kitti.Bench -- " + string.Join(" ", args);
set_num_threads(1);
var rows = new List<Row>();

// 1. Generation of 64-beam frames (one core).
var generation = Stopwatch.StartNew();
const int generated = 20;
long generatedPoints = 0;
for (var i = 0; i < generated; i++) generatedPoints += SyntheticKittiScenes.Generate(seed + 1000, i).Points.Length / 4;
rows.Add(new Row("synthetic generation (64 beams, 0.08 deg, +-45 deg)", generated, generation.Elapsed.TotalSeconds, generatedPoints / (double)generated, null));
Console.WriteLine(rows[^1]);

if (!Directory.Exists(root))
{
    Console.WriteLine($"Generating {frames} frames at {root} ...");
    var sw = Stopwatch.StartNew();
    SyntheticKittiScenes.GenerateTree(root, frames, seed, NullProgressReporter.Instance);
    Console.WriteLine($"  {sw.Elapsed.TotalSeconds:F1} s");
}

var services = RunServices.ForTesting(seed);
var dataset = new KittiDataset(new KittiOptions { Root = root }, services);
var val = (ISampleSource)dataset.GetSplit("val");
var ids = Enumerable.Range(0, val.Count).Select(i => val.Get(i).Id).ToArray();
Measure("synthetic val", root, ids, new KittiOptions { Root = root }, rows);
if (Directory.Exists(real))
{
    var realIds = KittiFiles.ReadImageSet(Path.Combine(real, "ImageSets", "val.txt")).ToArray();
    Measure("real KITTI sample (full 360 deg scans)", real, realIds, new KittiOptions { Root = real }, rows);
}

// 2. Evaluation of a full val split: predictions are the ground-truth boxes jittered (centre ±0.3 m, size ±5 %,
// yaw ±0.1 rad), a tenth of them dropped, plus one false positive per frame.
var items = new List<(Sample, Prediction)>();
var random = new Random(seed);
for (var i = 0; i < val.Count; i++)
{
    var sample = val.Get(i);
    var boxes = new List<Box3D>();
    foreach (var b in sample.Boxes)
    {
        if (random.NextDouble() < 0.1) continue;
        float J(double s) => (float)((random.NextDouble() * 2 - 1) * s);
        boxes.Add(b with { X = b.X + J(0.3), Y = b.Y + J(0.3), Length = b.Length * (1 + J(0.05)), Width = b.Width * (1 + J(0.05)), Yaw = b.Yaw + J(0.1), Score = (float)random.NextDouble() });
    }
    boxes.Add(new Box3D(20 + J2(random, 10), J2(random, 10), -0.9f, 3.9f, 1.6f, 1.5f, J2(random, 3), 0, (float)random.NextDouble()));
    items.Add((sample.WithoutPoints(), new Prediction { Boxes = boxes }));
}
var evaluator = new KittiApEvaluator(new KittiApOptions { WriteResultFiles = false });
evaluator.Evaluate(items.Take(5).ToList(), dataset.Info, outDir); // JIT
var evalWatch = Stopwatch.StartNew();
var outcome = evaluator.Evaluate(items, dataset.Info, outDir);
var evalSeconds = evalWatch.Elapsed.TotalSeconds;
rows.Add(new Row($"kitti-ap evaluation of the val split ({items.Count} frames, jittered GT)", items.Count, evalSeconds, null, null));
Console.WriteLine(rows[^1]);
// The same frames repeated to KITTI val's size (3769 frames), to show how evaluation scales.
var kittiVal = Enumerable.Range(0, 3769).Select(i => items[i % items.Count]).ToList();
evalWatch.Restart();
evaluator.Evaluate(kittiVal, dataset.Info, outDir);
rows.Add(new Row("kitti-ap evaluation, val frames repeated to KITTI val's 3769", kittiVal.Count, evalWatch.Elapsed.TotalSeconds, null, null));
Console.WriteLine(rows[^1]);
var map = outcome.Metrics.GetValueOrDefault("mAP/3d/moderate/R40");

Write(outDir, rows, command, frames, seed, root, map);
return 0;

static float J2(Random r, double s) => (float)((r.NextDouble() * 2 - 1) * s);

// Raw bytes, read + crop, read + crop + voxelize over the same frames; each pass twice, the second one timed
// (so all three see the same warm page cache).
static void Measure(string label, string root, string[] ids, KittiOptions options, List<Row> rows)
{
    var dataset = new KittiDataset(options, RunServices.ForTesting());
    var split = dataset.GetSplit("val");
    var bins = ids.Select(id => Path.Combine(root, "training", "velodyne", id + ".bin")).ToArray();
    var bytes = bins.Sum(b => new FileInfo(b).Length);
    var repeat = Math.Max(1, 60 / ids.Length);

    double Time(Action<int> action)
    {
        for (var i = 0; i < split.Count; i++) action(i);
        var sw = Stopwatch.StartNew();
        for (var r = 0; r < repeat; r++)
        for (var i = 0; i < split.Count; i++) action(i);
        return sw.Elapsed.TotalSeconds;
    }

    long rawSink = 0;
    var raw = Time(i => rawSink += File.ReadAllBytes(bins[i]).Length);
    long kept = 0;
    var crop = Time(i => kept += split.Get(i).PointCount);
    long pillars = 0;
    var voxel = Time(i =>
    {
        var sample = split.Get(i);
        pillars += PillarVoxelizer.Voxelize(sample.Points, options.PointCloudRange, 0.16f);
    });
    var n = split.Count * repeat;
    var mb = bytes / 1e6 * repeat;
    rows.Add(new Row($"{label}: read bytes only", n, raw, bytes / 16.0 / ids.Length, mb / raw));
    rows.Add(new Row($"{label}: read + parse + range/FOV crop", n, crop, kept / (double)(split.Count * (repeat + 1)), mb / crop));
    rows.Add(new Row($"{label}: read + crop + pillar voxelization (0.16 m)", n, voxel, pillars / (double)(split.Count * (repeat + 1)), mb / voxel, "pillars per frame"));
    foreach (var row in rows.TakeLast(3)) Console.WriteLine(row);
}

static void Write(string outDir, List<Row> rows, string command, int frames, int seed, string root, double map)
{
    Directory.CreateDirectory(outDir);
    var date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
    var md = new StringBuilder();
    md.Append("# KITTI data path benchmark\n\n");
    md.Append($"- Date: {date}\n- Machine: {Environment.ProcessorCount} cores ({System.Runtime.InteropServices.RuntimeInformation.OSDescription}), torch threads 1\n");
    md.Append($"- Command: `{command}`\n- Data: synthetic KITTI-format set, {frames} frames, seed {seed} (val split = last 20 %), at {root}; and the real frames of shared/data/kitti-sample where present\n");
    md.Append($"- Raw reads, crop and voxelization pass over the same files with a warm page cache; the evaluation's mAP/3d/moderate/R40 on jittered ground truth was {map.ToString("F2", CultureInfo.InvariantCulture)}\n\n");
    md.Append("| Setting | Frames | Seconds | Frames/s | Points (or pillars) per frame | MB/s |\n|---|---:|---:|---:|---:|---:|\n");
    foreach (var r in rows)
    {
        md.Append($"| {r.Setting} | {r.Frames} | {r.Seconds:F3} | {r.FramesPerSecond:F1} | {(r.PerFrame is { } p ? p.ToString("F0", CultureInfo.InvariantCulture) + (r.PerFrameUnit is null ? "" : " " + r.PerFrameUnit) : "-")} | {(r.MegabytesPerSecond is { } m ? m.ToString("F0", CultureInfo.InvariantCulture) : "-")} |\n");
    }
    AtomicFile.WriteAllText(Path.Combine(outDir, "kitti.md"), md.ToString());
    var json = JsonSerializer.Serialize(new
    {
        date,
        cores = Environment.ProcessorCount,
        command,
        frames,
        seed,
        rows = rows.Select(r => new { setting = r.Setting, frames = r.Frames, seconds = r.Seconds, frames_per_second = r.FramesPerSecond, per_frame = r.PerFrame, per_frame_unit = r.PerFrameUnit ?? "points", mb_per_second = r.MegabytesPerSecond }),
    }, new JsonSerializerOptions { WriteIndented = true });
    AtomicFile.WriteAllText(Path.Combine(outDir, "kitti.json"), json + "\n");
    Console.WriteLine($"Wrote {Path.Combine(outDir, "kitti.md")} and kitti.json");
}

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (var i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            throw new ArgumentException($"Expected '--name value' pairs, found '{args[i]}'. Options: --root DIR --frames N --seed S --out DIR --real DIR.");
        result[args[i][2..]] = args[++i];
    }
    return result;
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

internal sealed record Row(string Setting, int Frames, double Seconds, double? PerFrame, double? MegabytesPerSecond, string? PerFrameUnit = null)
{
    public double FramesPerSecond => Frames / Seconds;
    public override string ToString() => $"{Setting}: {Frames} frames in {Seconds:F3} s = {FramesPerSecond:F1} frames/s" +
        (PerFrame is { } p ? $", {p:F0} {PerFrameUnit ?? "points"}/frame" : "") + (MegabytesPerSecond is { } m ? $", {m:F0} MB/s" : "");
}

/// <summary>
/// PointPillars-style pillar assignment with tensor ops: each point's (x, y) cell id, the unique ids (the
/// non-empty pillars) with each point's pillar index, and the mean point of each pillar by index_add.
/// </summary>
internal static class PillarVoxelizer
{
    public static int Voxelize(float[] points, float[] range, float pillarSize)
    {
        using var scope = NewDisposeScope();
        var n = points.Length / 4;
        if (n == 0) return 0;
        var p = tensor(points).view(n, 4);
        var nx = (long)Math.Ceiling((range[3] - range[0]) / pillarSize);
        var ix = ((p[.., 0] - range[0]) / pillarSize).floor().to(ScalarType.Int64).clamp(0, nx - 1);
        var ny = (long)Math.Ceiling((range[4] - range[1]) / pillarSize);
        var iy = ((p[.., 1] - range[1]) / pillarSize).floor().to(ScalarType.Int64).clamp(0, ny - 1);
        var cell = ix * ny + iy;
        var (unique, inverse, counts) = cell.unique(sorted: true, return_inverse: true, return_counts: true);
        var sums = zeros(unique.shape[0], 4).index_add_(0, inverse!, p, 1);
        var means = sums / counts!.unsqueeze(1).to(ScalarType.Float32);
        return (int)means.shape[0];
    }
}
