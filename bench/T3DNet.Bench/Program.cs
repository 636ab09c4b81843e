using System.Globalization;
using System.Text;
using System.Text.Json;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Distill.T3DNet;
using Platform.Plugins.Models.PointNet;
using TorchSharp;

// Usage: dotnet run -c Release --project bench/T3DNet.Bench [-- Key=Value ...]; keys are the Settings properties below.
var settings = Settings.Parse(args);
var culture = CultureInfo.InvariantCulture;
torch.set_num_threads(settings.Threads);
TorchRuntime.Initialize();
var repo = FindRepoRoot();
var resultsDir = Path.Combine(repo, "bench", "results");
var workDir = Path.Combine(Path.GetTempPath(), "t3dnet-bench-" + Guid.NewGuid().ToString("N")[..8]);
Console.WriteLine($"T3DNet benchmark: {JsonSerializer.Serialize(settings)}");

IDataset NewDataset(RunServices services) => settings.ModelNet40Root is { Length: > 0 } root
    ? new ModelNet40Dataset(new ModelNet40Options { Root = root, Points = settings.Points }, services)
    : new ShapesDataset(new ShapesOptions { TrainCount = settings.TrainCount, ValCount = settings.ValCount, TestCount = 12, Points = settings.Points }, services);

RunServices Services(string row) => new(settings.Seed, torch.CPU, Path.Combine(workDir, row),
    Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, new ConsoleProgress());

var rows = new List<Row>();

Row Measure(string method, string setting, IModel model, IDataset dataset, double seconds, RunServices services)
{
    var stats = ModelStats.Measure(model);
    var predictions = Inference.Predict(model, dataset.GetSplit(settings.EvalSplit), services, batchSize: 32, description: $"{method}: evaluate");
    var metrics = new AccuracyEvaluator(new NoOptions()).Evaluate(predictions, dataset.Info, Path.Combine(services.OutputDirectory, "evaluation")).Metrics;
    var row = new Row(method, setting, stats.Params, stats.Flops, metrics["accuracy"], metrics["meanClassAccuracy"], seconds);
    Console.WriteLine($"  -> {row.Method}: params {row.Params:N0}, FLOPs {row.Flops:N0}, accuracy {row.Accuracy:F2}%, mean class {row.MeanClassAccuracy:F2}%, {row.TrainSeconds:F0} s");
    rows.Add(row);
    return row;
}

// 1. The teacher.
var teacherServices = Services("teacher");
var teacherData = NewDataset(teacherServices);
Seeding.Seed(settings.Seed);
var teacherOptions = new PointNetOptions
{
    WidthMultiplier = settings.TeacherWidth, NumPoints = settings.Points, InputTransform = settings.Transforms, FeatureTransform = settings.Transforms,
};
var teacher = new PointNetModel(teacherOptions, teacherData.Info);
double teacherSeconds;
// A trained teacher can be reused across runs (TeacherCheckpoint=path): its training time travels in the checkpoint.
if (settings.TeacherCheckpoint is { Length: > 0 } cached && File.Exists(cached))
{
    Checkpoint.LoadInto(teacher, cached);
    teacherSeconds = Checkpoint.ReadHeader(cached).Metadata.GetValueOrDefault("trainSeconds");
    Console.WriteLine($"Teacher loaded from {cached} (trained in {teacherSeconds:F0} s)");
}
else
{
    teacherSeconds = new Trainer(teacherServices).Fit(teacher, teacherData.GetSplit("train"), Train(settings.TeacherEpochs), description: "teacher").Seconds;
    if (settings.TeacherCheckpoint is { Length: > 0 } path) Checkpoint.Save(teacher, path, new Dictionary<string, double> { ["trainSeconds"] = teacherSeconds });
}
var architecture = settings.Transforms ? "PointNet" : "PointNet without T-Nets";
var teacherRow = Measure("teacher", $"{architecture} width {settings.TeacherWidth}, {settings.TeacherEpochs} epochs", teacher, teacherData, teacherSeconds, teacherServices);

// Every student: the same width, the same initialisation (StudentTraining seeds it), the same number of epochs.
var studentEpochs = 2 * settings.StudentStageEpochs;
var factory = new PointNetFactory();
var common = $"student width {settings.StudentWidth}";

(PipelineContext Context, IDataset Data, RunServices Services) Context(string row)
{
    var services = Services(row);
    var data = NewDataset(services);
    return (new PipelineContext(services, data, factory) { Model = teacher }, data, services);
}

StudentOptions Configure(StudentOptions o)
{
    o.StudentWidth = settings.StudentWidth;
    o.StudentOverrides = settings.StudentOverrides;
    o.BatchSize = settings.BatchSize;
    o.LearningRate = settings.StudentLearningRate;
    o.WeightDecay = 1e-4;
    o.Temperature = settings.Temperature;
    return o;
}

// 2. Tiny from scratch.
{
    var (context, data, services) = Context("scratch");
    var training = new StudentTraining(context, teacher, Configure(new DistillOptions()), "scratch");
    var student = training.CreateStudent();
    var history = new Trainer(services).Fit(student, data.GetSplit("train"), Train(studentEpochs, settings.StudentLearningRate), description: "tiny from scratch");
    Measure("tiny from scratch", $"{common}, {studentEpochs} epochs", student, data, history.Seconds, services);
    student.Dispose();
}

// 3. Tiny by plain distillation.
{
    var (context, data, services) = Context("distill");
    var options = (DistillOptions)Configure(new DistillOptions { Epochs = studentEpochs });
    var outcome = new DistillCompressor(options).Run(context);
    Measure("tiny + plain distillation", $"{common}, {studentEpochs} epochs, T={settings.Temperature}", context.Model!, data, outcome.Metrics["distillationSeconds"], services);
    context.Model!.Dispose();
}

T3DNetOptions T3d(string stages, int augmentationEpochs, int distillationEpochs)
{
    var o = (T3DNetOptions)Configure(new T3DNetOptions { Stages = stages, AugmentationEpochs = augmentationEpochs, DistillationEpochs = distillationEpochs });
    o.MaxWidthFactor = settings.MaxWidthFactor;
    return o;
}

void RunT3d(string method, string row, T3DNetOptions options)
{
    var (context, data, services) = Context(row);
    var outcome = new T3DNetCompressor(options).Run(context);
    var seconds = outcome.Metrics.Where(kv => kv.Key.EndsWith("Seconds", StringComparison.Ordinal)).Sum(kv => kv.Value);
    var setting = $"{common}, stages {options.Stages} ({(options.Stages.Contains("augmentation") || options.Stages == "end-to-end" ? options.AugmentationEpochs + " aug" : "")}"
                  + $"{(options.Stages.Contains("distillation") ? " + " + options.DistillationEpochs + " KD" : "")} epochs), widths up to {options.MaxWidthFactor}x";
    Measure(method, setting, context.Model!, data, seconds, services);
    context.Model!.Dispose();
}

// 4. Network augmentation only, 5. T3DNet, 6. the end-to-end variant.
RunT3d("tiny + network augmentation", "netaug", T3d("augmentation", studentEpochs, 0));
RunT3d("T3DNet (augmentation, then distillation)", "t3dnet", T3d("augmentation,distillation", settings.StudentStageEpochs, settings.StudentStageEpochs));
if (settings.EndToEnd) RunT3d("T3DNet end-to-end", "t3dnet-e2e", T3d("end-to-end", studentEpochs, 0));

// The table, the goal check, the files.
var t3dnet = rows.Single(r => r.Method.StartsWith("T3DNet (", StringComparison.Ordinal));
var scratch = rows.Single(r => r.Method == "tiny from scratch");
var distill = rows.Single(r => r.Method == "tiny + plain distillation");
var reduction = (double)teacherRow.Params / t3dnet.Params;
var goals = new (string Goal, bool Met, string Measured)[]
{
    ("T3DNet's model has at least 50x fewer parameters than the teacher", reduction >= 50, $"{reduction:F1}x"),
    ("T3DNet loses at most 1.5 points of accuracy to the teacher", teacherRow.Accuracy - t3dnet.Accuracy <= 1.5, $"{teacherRow.Accuracy - t3dnet.Accuracy:F2} points"),
    ("T3DNet beats the tiny model from scratch", t3dnet.Accuracy > scratch.Accuracy, $"{t3dnet.Accuracy - scratch.Accuracy:+0.00;-0.00} points"),
    ("T3DNet beats plain distillation", t3dnet.Accuracy > distill.Accuracy, $"{t3dnet.Accuracy - distill.Accuracy:+0.00;-0.00} points"),
};
var command = "dotnet run -c Release --project bench/T3DNet.Bench" + (args.Length > 0 ? " -- " + string.Join(" ", args) : "");
var dataName = settings.ModelNet40Root is { Length: > 0 } ? $"ModelNet40 ({settings.ModelNet40Root}), split {settings.EvalSplit}" : $"procedural shapes, {settings.TrainCount} train / {settings.ValCount} {settings.EvalSplit} shapes";
var md = new StringBuilder();
md.AppendLine("# T3DNet: tiny PointNet by network augmentation and distillation");
md.AppendLine();
md.AppendLine($"Command: `{command}`  ");
md.AppendLine($"Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; machine: {Environment.ProcessorCount} cores, torch threads {settings.Threads}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}  ");
md.AppendLine($"Data: {dataName}, {settings.Points} points per shape; accuracy on the {settings.EvalSplit} split. Seed {settings.Seed}.");
md.AppendLine();
md.AppendLine("| method | setting | parameters | FLOPs per shape (MACs) | accuracy (%) | mean class accuracy (%) | training time (s) |");
md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
foreach (var r in rows)
    md.AppendLine(string.Create(culture, $"| {r.Method} | {r.Setting} | {r.Params:N0} | {r.Flops:N0} | {r.Accuracy:F2} | {r.MeanClassAccuracy:F2} | {r.TrainSeconds:F0} |"));
md.AppendLine();
md.AppendLine("Goals of issue 6, checked against the rows above:");
md.AppendLine();
foreach (var (goal, met, measured) in goals) md.AppendLine($"- {(met ? "met" : "NOT met")}: {goal} (measured: {measured})");
md.AppendLine();
md.AppendLine("Every student has the same architecture, initialisation and number of training epochs; the T3DNet row splits them between its two stages. "
              + "Training time is the wall time of the training loop on this machine (shared with other work while it ran).");
Directory.CreateDirectory(resultsDir);
AtomicFile.WriteAllText(Path.Combine(resultsDir, "t3dnet.md"), md.ToString());
var json = JsonSerializer.Serialize(new
{
    command,
    date = DateTime.UtcNow.ToString("o", culture),
    cores = Environment.ProcessorCount,
    settings,
    data = dataName,
    rows,
    goals = goals.Select(g => new { g.Goal, g.Met, g.Measured }),
}, new JsonSerializerOptions { WriteIndented = true });
AtomicFile.WriteAllText(Path.Combine(resultsDir, "t3dnet.json"), json);
Console.WriteLine();
Console.WriteLine(md.ToString());
Console.WriteLine($"Wrote {Path.Combine(resultsDir, "t3dnet.md")} and t3dnet.json");
teacher.Dispose();
try { Directory.Delete(workDir, recursive: true); } catch (IOException) { }
return 0;

TrainOptions Train(int epochs, double? learningRate = null) =>
    new() { Epochs = epochs, BatchSize = settings.BatchSize, LearningRate = learningRate ?? settings.LearningRate, WeightDecay = 1e-4 };

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

internal sealed record Row(string Method, string Setting, long Params, double Flops, double Accuracy, double MeanClassAccuracy, double TrainSeconds);

internal sealed class Settings
{
    public int Seed { get; set; }
    public int TrainCount { get; set; } = 2400;
    public int ValCount { get; set; } = 600;
    public int Points { get; set; } = 128;
    public bool Transforms { get; set; }
    public double TeacherWidth { get; set; } = 1.0;
    public int TeacherEpochs { get; set; } = 10;
    public double StudentWidth { get; set; } = 0.125;
    public string StudentOverrides { get; set; } = "";
    public int StudentStageEpochs { get; set; } = 15;
    public double StudentLearningRate { get; set; } = 5e-3;
    public double MaxWidthFactor { get; set; } = 4;
    public double Temperature { get; set; } = 4;
    public int BatchSize { get; set; } = 32;
    public double LearningRate { get; set; } = 2e-3;
    public bool EndToEnd { get; set; } = true;
    // One intra-op thread by default: on a shared 2-core machine OpenMP's spin-waiting costs more than the second core gives.
    public int Threads { get; set; } = 1;
    public string EvalSplit { get; set; } = "val";
    public string ModelNet40Root { get; set; } = "";
    public string TeacherCheckpoint { get; set; } = "";

    public static Settings Parse(string[] args)
    {
        var settings = new Settings();
        foreach (var arg in args)
        {
            var cut = arg.IndexOf('=');
            var key = cut > 0 ? arg[..cut].TrimStart('-') : throw new ArgumentException($"Argument '{arg}' is not Key=Value.");
            var property = typeof(Settings).GetProperty(key)
                ?? throw new ArgumentException($"Unknown setting '{key}'; settings: {string.Join(", ", typeof(Settings).GetProperties().Select(p => p.Name))}.");
            property.SetValue(settings, Convert.ChangeType(arg[(cut + 1)..], property.PropertyType, CultureInfo.InvariantCulture));
        }
        return settings;
    }
}

internal sealed class PointNetFactory : IComponentFactory
{
    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) => use switch
    {
        "pointnet" => new PointNetModel(optionsJson is null ? new() : JsonSerializer.Deserialize<PointNetOptions>(optionsJson)!, dataset),
        "pointnet2-ssg" => new PointNet2SsgModel(optionsJson is null ? new() : JsonSerializer.Deserialize<PointNet2SsgOptions>(optionsJson)!, dataset),
        _ => throw new ArgumentException($"The benchmark builds pointnet and pointnet2-ssg, not '{use}'."),
    };

    public IModel LoadModel(string checkpointPath)
    {
        var header = Checkpoint.ReadHeader(checkpointPath);
        var model = CreateModel(header.Spec.Use, header.Spec.OptionsJson, header.Spec.Dataset);
        Checkpoint.LoadInto(model, checkpointPath);
        return model;
    }
}

/// <summary>One line per finished task, with its time: enough to follow a long run without a progress bar.</summary>
internal sealed class ConsoleProgress : IProgressReporter
{
    public IProgressTask Start(string description, long total) => new Task(description, total);

    private sealed class Task(string description, long total) : IProgressTask
    {
        private readonly System.Diagnostics.Stopwatch watch = System.Diagnostics.Stopwatch.StartNew();
        private long done;
        private string? status;
        private int lastPercent = -1;

        public void Advance(long amount = 1, string? status = null)
        {
            done += amount;
            this.status = status ?? this.status;
            var percent = total == 0 ? 100 : (int)(100 * done / total);
            if (percent / 25 != lastPercent / 25 && percent < 100)
                Console.WriteLine($"  {description}: {percent}% {this.status} ({watch.Elapsed.TotalSeconds:F0} s)");
            lastPercent = percent;
        }

        public void Dispose() => Console.WriteLine($"  {description}: done {status} ({watch.Elapsed.TotalSeconds:F0} s)");
    }
}
