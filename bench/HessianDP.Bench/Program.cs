using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Bench.HessianDP;
using Platform.Plugins.Pruning.HessianDP;
using TorchSharp;
using static TorchSharp.torch;

// Usage: dotnet run --project bench/HessianDP.Bench [-- Key=Value ...]; keys are BenchSettings' properties.
var settings = BenchSettings.Parse(args);
var culture = CultureInfo.InvariantCulture;
torch.set_num_threads(settings.Threads);
var repo = BenchSettings.FindRepoRoot();
var workDir = Path.Combine(Path.GetTempPath(), "hessiandp-bench-" + Guid.NewGuid().ToString("N")[..8]);
Subject subject = settings.Subject switch
{
    "pointnet" => new PointNetSubject(settings),
    "centerpoint" => new CenterPointSubject(settings),
    _ => throw new ArgumentException($"Subject={settings.Subject}: use pointnet or centerpoint."),
};
var output = settings.Output is { Length: > 0 } o ? o : subject.Name == "centerpoint" ? "hessiandp" : $"hessiandp-{subject.Name}";
Console.WriteLine($"HessianDP benchmark: {JsonSerializer.Serialize(settings)}");

RunServices Services(string row) => new(settings.Seed, CPU, Path.Combine(workDir, row),
    Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, NullProgressReporter.Instance);

var baseServices = Services("dense");
var dataset = subject.CreateDataset(baseServices);
var (dense, origin) = subject.Dense(settings, dataset, baseServices);
dense.Module.eval();
var denseCheckpoint = Path.Combine(workDir, "dense.ckpt");
Checkpoint.Save(dense, denseCheckpoint);
Console.WriteLine($"dense model: {origin}");

// The dense outputs on the evaluation samples: the reference every row's output distortion is measured against.
var evalSplit = dataset.GetSplit(settings.EvalSplit);
var evalCount = Math.Min(settings.EvalSamples, evalSplit.Count);
var evalBatches = new List<ModelBatch>();
var denseOutputs = new List<ModelOutput>();
for (var start = 0; start < evalCount; start += settings.BatchSize)
{
    var batch = dense.Collate(Enumerable.Range(start, Math.Min(settings.BatchSize, evalCount - start)).Select(evalSplit.Get).ToList(), CPU);
    evalBatches.Add(batch);
    using var _ = no_grad();
    denseOutputs.Add(dense.Forward(batch));
}

double EvalDistortion(IModel model)
{
    model.Module.eval();
    using var _ = no_grad();
    double sum = 0;
    for (var b = 0; b < evalBatches.Count; b++)
    {
        using var scope = NewDisposeScope();
        sum += OutputDistortion.Between(model, denseOutputs[b], model.Forward(evalBatches[b]), new DistortionWeights()).to_type(ScalarType.Float64).item<double>();
    }
    return sum / evalBatches.Count;
}

Dictionary<string, double> Evaluate(IModel model, RunServices services)
{
    var predictions = Inference.Predict(model, evalSplit, services, settings.BatchSize, evalCount, "evaluate");
    return subject.Evaluator.Evaluate(predictions, dataset.Info, Path.Combine(services.OutputDirectory, "evaluation")).Metrics;
}

var rows = new List<BenchRow>();
var denseStats = ModelStats.Measure(dense);
var denseMetrics = Evaluate(dense, baseServices);
var headline = subject.Headline(denseMetrics);
rows.Add(new BenchRow("dense", 1, denseStats.Flops, denseStats.DenseFlops / denseStats.Flops, 1, denseStats.Params, denseStats.NonzeroParams,
    headline.ToDictionary(h => h.Header, h => denseMetrics.GetValueOrDefault(h.Metric, double.NaN)), 0, 0, 0, 0, 0, 0, double.NaN));
Console.WriteLine($"dense: FLOPs {denseStats.Flops:N0}, params {denseStats.Params:N0}, " + string.Join(", ", rows[0].Metrics.Select(m => $"{m.Key} {m.Value:F2}")));

var plans = new Dictionary<double, LayerSparsityPlan>();
foreach (var reduction in settings.ReductionList)
{
    foreach (var method in settings.MethodList)
    {
        using var model = subject.LoadModel(denseCheckpoint);
        var services = Services($"{method}-{reduction.ToString(culture)}x");
        var context = new PipelineContext(services, dataset, subject) { Model = model };
        var compressor = CreateCompressor(method, reduction);
        var watch = Stopwatch.StartNew();
        var outcome = compressor.Run(context);
        var seconds = watch.Elapsed.TotalSeconds;
        var stats = ModelStats.Measure(model);
        var metrics = Evaluate(model, services);
        var m = outcome.Metrics;
        var row = new BenchRow(method, reduction, stats.Flops, stats.DenseFlops / stats.Flops, m["prunable_flops_reduction"], stats.Params, stats.NonzeroParams,
            headline.ToDictionary(h => h.Header, h => metrics.GetValueOrDefault(h.Metric, double.NaN)), EvalDistortion(model),
            m.GetValueOrDefault("calibration_load_seconds") + m.GetValueOrDefault("calibration_seconds"), m.GetValueOrDefault("curve_seconds"),
            m.GetValueOrDefault("dp_seconds") + m.GetValueOrDefault("allocation_seconds"), m.GetValueOrDefault("honesty_seconds"), seconds,
            m.GetValueOrDefault("honesty_rank_correlation", double.NaN));
        rows.Add(row);
        if (method == "hessian-dp") plans[reduction] = (LayerSparsityPlan)context.Items[LayerSparsityPlan.ContextKey];
        Console.WriteLine($"{method} {reduction}x: FLOPs {row.Flops:N0} ({row.Reduction:F2}x), nonzero {row.NonzeroParams:N0}, distortion {row.Distortion:G4}, " +
                          string.Join(", ", row.Metrics.Select(x => $"{x.Key} {x.Value:F2}")) + $", {seconds:F1} s");
    }
}

// Results: Markdown, JSON, plots.
var resultsDir = Path.Combine(repo, "bench", "results");
Directory.CreateDirectory(resultsDir);
var command = "dotnet run --project bench/HessianDP.Bench" + (args.Length > 0 ? " -- " + string.Join(" ", args) : "");
var date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", culture) + " UTC";
var hp = new HessianDPOptions();
var md = new StringBuilder();
md.AppendLine($"# DM3D (hessian-dp) and its baselines on {subject.Name}, no fine-tuning").AppendLine();
md.AppendLine($"Command: `{command}`  ");
md.AppendLine($"Date: {date}; machine: {Environment.ProcessorCount} cores, torch threads {settings.Threads}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}  ");
md.AppendLine($"Data: {subject.DataDescription}. Dense model: {origin}. Seed {settings.Seed}.  ");
md.AppendLine($"Pruning: budget over whole-model FLOPs (ModelStats.Flops, MACs per sample, including the unprunable {dense.OtherFlopsPerSample:N0}); " +
              $"calibration: first {settings.CalibrationSamples} samples of '{settings.CalibrationSplit}'; hessian-dp: Estimator={settings.Estimator}, Ranking={settings.Ranking}, Solver={hp.Solver}, " +
              $"{settings.Projections} projections per batch, {hp.SparsityLevels} sparsity levels, {hp.BudgetSteps} budget steps, MaxSparsity {hp.MaxSparsity}.").AppendLine();
var metricHeaders = headline.Select(h => h.Header).ToList();
md.AppendLine("| method | target | FLOPs (MACs) | reduction (whole) | reduction (prunable layers) | non-zero params | " + string.Join(" | ", metricHeaders) +
              " | output distortion | calibration s | curves s | allocation s | honesty s | total pruning s | honesty ρ |");
md.AppendLine("|---|---:|---:|---:|---:|---:|" + string.Concat(metricHeaders.Select(_ => "---:|")) + "---:|---:|---:|---:|---:|---:|---:|");
foreach (var r in rows)
{
    md.AppendLine($"| {r.Method} | {(r.Method == "dense" ? "-" : r.Target.ToString("0.#", culture) + "x")} | {r.Flops.ToString("N0", culture)} | {r.Reduction.ToString("F2", culture)}x | " +
                  $"{r.PrunableReduction.ToString("F2", culture)}x | {r.NonzeroParams.ToString("N0", culture)} | " +
                  string.Concat(metricHeaders.Select(h => r.Metrics[h].ToString("F2", culture) + " | ")) +
                  $"{r.Distortion.ToString("G3", culture)} | {r.CalibrationSeconds.ToString("F2", culture)} | {r.CurveSeconds.ToString("F2", culture)} | " +
                  $"{r.AllocationSeconds.ToString("F2", culture)} | {r.HonestySeconds.ToString("F2", culture)} | {r.TotalSeconds.ToString("F2", culture)} | " +
                  (double.IsNaN(r.HonestyCorrelation) ? "-" : r.HonestyCorrelation.ToString("F2", culture)) + " |");
}
md.AppendLine();
md.AppendLine("hessian-dp-mag: the same with Ranking=Magnitude (|w|); hessian-dp-fisher: Estimator=RankOneFisher, Ranking=Magnitude with Solver=Lagrangian (the DM3D research code's combination). " +
              "Output distortion: Σ over the model's distortion outputs of mean((pruned − dense)²) on the evaluation samples (equal group weights). " +
              "Calibration/curves/allocation seconds are hessian-dp's phases (the baselines have only allocation); total includes loading the calibration set, " +
              "applying masks and the honesty check. Honesty ρ: Spearman rank correlation of predicted and measured distortion, single layers pruned alone.");
md.AppendLine();
var plot = subject.PlotMetric(headline);
md.AppendLine($"![{plot.Header} vs FLOPs reduction]({output}-metric.png) ![output distortion vs FLOPs reduction]({output}-distortion.png) ![per-layer sparsity chosen by hessian-dp]({output}-sparsity.png)");
md.AppendLine();
md.AppendLine("Goals of issue 5 (measured above, whether met or not):").AppendLine();
foreach (var goal in Goals()) md.AppendLine("- " + goal);
AtomicFile.WriteAllText(Path.Combine(resultsDir, output + ".md"), md.ToString());
AtomicFile.WriteAllText(Path.Combine(resultsDir, output + ".json"), JsonSerializer.Serialize(new
{
    command, date, cores = Environment.ProcessorCount, settings, subject = subject.Name, dense = origin, rows,
    plans = plans.ToDictionary(p => p.Key.ToString(culture) + "x", p => p.Value.Layers),
}, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));

Plots.Lines(Path.Combine(resultsDir, output + "-metric.png"), $"{subject.Name}: {plot.Header} vs FLOPs reduction (no fine-tuning)", "FLOPs reduction (whole model, x)", plot.Header,
    settings.MethodList.Select(method => (method, rows.Where(r => r.Method == method).Select(r => (r.Reduction, r.Metrics[plot.Header])).ToList())).ToList(),
    ("dense", rows[0].Metrics[plot.Header]));
Plots.Lines(Path.Combine(resultsDir, output + "-distortion.png"), $"{subject.Name}: output distortion vs FLOPs reduction", "FLOPs reduction (whole model, x)", "output distortion",
    settings.MethodList.Select(method => (method, rows.Where(r => r.Method == method).Select(r => (r.Reduction, r.Distortion)).ToList())).ToList(), null);
Plots.Lines(Path.Combine(resultsDir, output + "-sparsity.png"), $"{subject.Name}: per-layer sparsity chosen by hessian-dp", "prunable layer (forward order)", "sparsity",
    plans.Select(p => ($"{p.Key.ToString(culture)}x", p.Value.Layers.Select((l, i) => ((double)i, l.Sparsity)).ToList())).ToList(), null);
Console.WriteLine($"wrote bench/results/{output}.md, .json and 3 PNGs");
foreach (var b in evalBatches) b.Dispose();
dense.Dispose();
try { Directory.Delete(workDir, recursive: true); } catch (IOException) { }
return;

ICompressor CreateCompressor(string method, double reduction)
{
    PruningOptions Common(PruningOptions o)
    {
        o.FlopsReduction = reduction;
        o.CalibrationSplit = settings.CalibrationSplit;
        o.CalibrationSamples = settings.CalibrationSamples;
        o.CalibrationBatchSize = settings.CalibrationBatchSize;
        return o;
    }
    return method switch
    {
        "hessian-dp" => new HessianDPCompressor((HessianDPOptions)Common(new HessianDPOptions { Projections = settings.Projections, Ranking = settings.Ranking, Estimator = settings.Estimator })),
        // Variants of the method (no honesty check): magnitude ranking within layers, and the research code's rank-one Fisher with a Lagrangian solver.
        "hessian-dp-mag" => new HessianDPCompressor((HessianDPOptions)Common(new HessianDPOptions { Projections = settings.Projections, Ranking = WithinLayerRanking.Magnitude, HonestyLayers = 0 })),
        "hessian-dp-fisher" => new HessianDPCompressor((HessianDPOptions)Common(new HessianDPOptions { Estimator = DistortionEstimator.RankOneFisher, Ranking = WithinLayerRanking.Magnitude, Solver = AllocationSolver.Lagrangian, HonestyLayers = 0 })),
        "uniform-magnitude" => new UniformMagnitudeCompressor(Common(new PruningOptions())),
        "global-magnitude" => new GlobalMagnitudeCompressor(Common(new PruningOptions())),
        "lamp" => new LampCompressor(Common(new PruningOptions())),
        _ => throw new ArgumentException($"Methods: unknown method '{method}' (hessian-dp, hessian-dp-mag, hessian-dp-fisher, uniform-magnitude, global-magnitude, lamp)."),
    };
}

IEnumerable<string> Goals()
{
    var key = plot.Header;
    var denseValue = rows[0].Metrics[key];
    foreach (var reduction in settings.ReductionList)
    {
        var hdp = rows.SingleOrDefault(r => r.Method == "hessian-dp" && r.Target == reduction);
        if (hdp is null) continue;
        var baselines = rows.Where(r => r.Method is "uniform-magnitude" or "global-magnitude" or "lamp" && r.Target == reduction).ToList();
        var bestBaseline = baselines.Count == 0 ? double.NaN : baselines.Max(r => r.Metrics[key]);
        var lowestBaselineDistortion = baselines.Count == 0 ? double.NaN : baselines.Min(r => r.Distortion);
        yield return $"{reduction.ToString(culture)}x: hessian-dp {key} {hdp.Metrics[key]:F2} vs dense {denseValue:F2} ({hdp.Metrics[key] - denseValue:+0.00;-0.00}) and best baseline {bestBaseline:F2} " +
                     $"({(hdp.Metrics[key] > bestBaseline ? "above" : "NOT above")}); output distortion {hdp.Distortion:G3} vs lowest baseline {lowestBaselineDistortion:G3} " +
                     $"({(hdp.Distortion < lowestBaselineDistortion ? "lower" : "NOT lower")}).";
    }
    var times = rows.Where(r => r.Method == "hessian-dp").Select(r => r.CalibrationSeconds + r.CurveSeconds + r.AllocationSeconds).DefaultIfEmpty(double.NaN).Max();
    yield return $"calibration + curves + allocation: at most {times:F1} s per run ({(times < 120 ? "under" : "NOT under")} 2 minutes).";
}
