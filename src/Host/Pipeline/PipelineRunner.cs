using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Host.Composition;
using Platform.Host.Console;
using Platform.Host.Reporting;
using TorchSharp;

namespace Platform.Host.Pipeline;

/// <summary>
/// Runs one pipeline: binds every component's options first, then creates the dataset, the model and every step and
/// lets each step prepare the components it uses (so a typo fails before an hour of training, not after), then runs
/// the steps in order on one context, writing the report after each.
/// </summary>
public sealed class PipelineRunner(PlatformHost host)
{
    /// <summary>The folder runs may write below: the current folder unless the command line names another (--output-root).</summary>
    public string OutputRoot { get; init; } = Directory.GetCurrentDirectory();

    private static readonly ComponentKind[] StepKinds = [ComponentKind.Step, ComponentKind.Compressor, ComponentKind.PointTransform];

    private sealed record PlannedStep(ComponentReference Reference, BoundComponent Component)
    {
        public ComponentDescriptor Descriptor => Component.Descriptor;

        /// <summary>The step or compressor, created before the first step runs (transforms are created when reached).</summary>
        public IPipelineStep? Instance { get; set; }
    }

    private sealed record ResolvedPipeline(PipelineDefinition Definition, BoundComponent Dataset, BoundComponent? Model, List<PlannedStep> Plan);

    /// <summary>Reads the pipeline and resolves and binds every component and option, as a run does first; runs nothing.</summary>
    private ResolvedPipeline Resolve(IConfiguration configuration, string pipelineFile)
    {
        var registry = host.Registry;
        var definition = PipelineDefinition.Read(configuration, pipelineFile);
        var dataset = registry.Bind(definition.Dataset, ComponentKind.Dataset);
        var model = definition.Model is null ? null : registry.Bind(definition.Model, ComponentKind.Model);
        var plan = definition.Steps.Select(step => new PlannedStep(step, registry.Bind(step, StepKinds))).ToList();
        return new ResolvedPipeline(definition, dataset, model, plan);
    }

    /// <summary>
    /// What `platform check` prints: the pipeline's components once every name, option and value has been checked
    /// as a run would check them before its first step (what needs the dataset, such as evaluator options, is not).
    /// </summary>
    public string Check(IConfiguration configuration, string pipelineFile)
    {
        var resolved = Resolve(configuration, pipelineFile);
        var d = resolved.Definition;
        Contained(d.Output);
        return $"{pipelineFile}: pipeline '{d.Name}', dataset {d.Dataset.Use}{(d.Model is null ? "" : $", model {d.Model.Use}")}, " +
               $"{resolved.Plan.Count} steps ({string.Join(", ", resolved.Plan.Select(p => p.Reference.Use))}), device {d.Device}, output {d.Output}";
    }

    public RunReport Run(IConfiguration configuration, string pipelineFile, IProgressReporter? progress = null)
    {
        // Resolve and bind everything before any work starts.
        var (definition, datasetComponent, modelComponent, plan) = Resolve(configuration, pipelineFile);

        var device = ResolveDevice(definition.Device);
        var output = Contained(definition.Output);
        try
        {
            Directory.CreateDirectory(output);
        }
        catch (IOException e)
        {
            throw new PlatformException($"Pipeline:Output: cannot create the output folder {output}: {e.Message}", e);
        }
        using var runLock = LockOutput(output);
        var archived = PreviousRun.SetAside(output, definition.PreviousRun, DateTimeOffset.UtcNow);
        // A killed run's report moved with its files: marked there, beside them.
        var interrupted = archived is null ? null : KeepInterruptedReport(archived);
        AtomicFile.WriteAllText(Path.Combine(output, "config.resolved.json"), PipelineDefinition.ResolvedJson(configuration));

        using var logs = new RunLoggerProvider(Path.Combine(output, "run.log"));
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var logger = loggerFactory.CreateLogger("run");
        var services = new RunServices(definition.Seed, device, output, loggerFactory, progress ?? new ConsoleProgressReporter()) { OutputRoot = OutputRoot, PreviousRunDirectory = archived };
        var writer = new ReportWriter(output);
        var report = new RunReport
        {
            Pipeline = definition.Name, Seed = definition.Seed, Device = device.ToString(), Accelerator = AcceleratorName(device),
            PipelineFile = Path.GetFullPath(pipelineFile), Started = DateTimeOffset.UtcNow, OutputDirectory = output,
        };
        var total = Stopwatch.StartNew();
        var tallies = new List<(string Step, IPointTransform Transform, PointCountTally Tally)>();

        logger.LogInformation("Pipeline '{Name}': {Steps} steps, seed {Seed}, {Device}{Asked}; output in {Output}", definition.Name, plan.Count, definition.Seed, device,
            definition.Device == device.ToString() ? "" : $" (Device: {definition.Device})", output);
        if (interrupted is not null)
            logger.LogWarning("The previous run in this folder was interrupted (its report still said 'running'); its report is kept as {File}", interrupted);
        if (archived is not null)
            logger.LogInformation("The earlier run in this folder was moved to {Archive} (Pipeline:PreviousRun: Archive).", archived);
        Seeding.Seed(definition.Seed);
        TorchRuntime.Initialize();
        report.TorchRuntime = TorchRuntime.Status;
        logger.LogInformation("Torch runtime: {Status}", TorchRuntime.Status);
        if (definition.Threads > 0) torch.set_num_threads(definition.Threads);
        var factory = host.CreateFactory(services, definition.Model);
        IDataset dataset;
        try
        {
            dataset = factory.Create<IDataset>(datasetComponent);
        }
        catch (PlatformException e)
        {
            report.Status = "failed";
            writer.Write(report);
            throw new PlatformException($"{definition.Dataset.Path}: {e.Message}", e);
        }
        report.Dataset = dataset.Provenance.ToDictionary();
        var context = new PipelineContext(services, dataset, factory);
        if (modelComponent is not null)
        {
            context.Model = factory.Create<IModel>(modelComponent, dataset.Info);
            context.Model.Module.to(device);
        }

        try
        {
            // A binding error fails the run here, before any step: the report is written and everything disposed below.
            PrepareSteps(plan, context, factory);
            for (var index = 0; index < plan.Count; index++)
            {
                var planned = plan[index];
                var step = new StepReport { Index = index, Use = planned.Descriptor.Name, Kind = ComponentRegistry.KindLabel(planned.Descriptor.Kind) };
                report.Steps.Add(step);
                writer.Write(report);
                context.CurrentStep = (index, planned.Descriptor.Name);
                logger.LogInformation("Step {Index}: {Use} ({Kind})", index, step.Use, step.Kind);
                var watch = Stopwatch.StartNew();
                try
                {
                    Seeding.Seed(StableHash.Combine(definition.Seed, index));
                    var outcome = RunStep(planned, context, factory, tallies);
                    step.Seconds = watch.Elapsed.TotalSeconds;
                    step.Status = "ok";
                    step.Metrics = outcome.Metrics;
                    step.Notes = outcome.Notes;
                    step.Provenance = outcome.Provenance.Count == 0 ? null : outcome.Provenance;
                    step.Tables = outcome.Tables;
                    step.Files = outcome.Files.Select(f => Path.IsPathRooted(f) ? Path.GetRelativePath(output, f) : f).ToList();
                    step.Files.AddRange(writer.Plot(step, outcome.Series));
                }
                catch (Exception e)
                {
                    step.Seconds = watch.Elapsed.TotalSeconds;
                    step.Status = "failed";
                    step.Error = e is PlatformException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                    logger.LogDebug(e, "Step {Index} failed", index);
                    throw new StepFailedException(index, planned.Descriptor.Name, step.Error, e);
                }
                finally
                {
                    if (context.Model is not null) step.Model = ModelSummary.From(ModelStats.Measure(context.Model));
                    report.Transforms = tallies.Select(t => new TransformReport(t.Step, t.Transform.Describe(), t.Tally.Samples, t.Tally.PointsIn, t.Tally.PointsOut)).ToList();
                    report.InputCounts = dataset.InputCounts.ToDictionary();
                    report.Seconds = total.Elapsed.TotalSeconds;
                    writer.Write(report);
                }
                logger.LogInformation("  done in {Seconds:F1} s{Metrics}", step.Seconds, step.Metrics.Count == 0 ? "" : ": " + string.Join(", ", step.Metrics.Take(8).Select(kv => $"{kv.Key}={ReportWriter.Format(kv.Value)}")));
            }
            report.Status = "ok";
            if (report.InputCounts.GetValueOrDefault("nonFinitePointsDropped") is > 0 and var dropped)
                logger.LogWarning("The data held {Points} points with a NaN or infinite value (in {Frames} frames); they were dropped (report: inputCounts).",
                    dropped, report.InputCounts.GetValueOrDefault("framesWithNonFinitePoints"));
        }
        catch
        {
            report.Status = "failed";
            throw;
        }
        finally
        {
            report.Seconds = total.Elapsed.TotalSeconds;
            writer.Write(report);
            context.Model?.Dispose();
            context.Teacher?.Dispose();
            (dataset as IDisposable)?.Dispose();
        }
        logger.LogInformation("Report: {Path}", Path.Combine(output, "report.md"));
        return report;
    }

    /// <summary>Name of the file a run holds open, exclusively, in its output folder for as long as it runs.</summary>
    public const string LockFileName = ".run.lock";

    /// <summary>
    /// Two runs into one folder both exited 0 with interleaved logs and mixed checkpoints (issue 15 §5): the second is
    /// refused. The lock is the open file itself, so a killed run leaves nothing that blocks the next one.
    /// </summary>
    private static FileStream LockOutput(string output)
    {
        try
        {
            return new FileStream(Path.Combine(output, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException)
        {
            throw new PlatformException($"Pipeline:Output: another run is writing to {output}; wait for it or choose another output folder.");
        }
    }

    /// <summary>
    /// A report that still says "running" while no run holds the folder is a killed run's: it is marked "interrupted"
    /// and kept with its run's files in previous-runs/ as report.interrupted.json (issue 15 §5: it stayed "running" for ever).
    /// </summary>
    private static string? KeepInterruptedReport(string output)
    {
        var path = Path.Combine(output, "report.json");
        if (!File.Exists(path)) return null;
        System.Text.Json.Nodes.JsonNode? report;
        try
        {
            report = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
        if (report?["status"]?.GetValue<string>() != "running") return null;
        report["status"] = "interrupted";
        var kept = Path.Combine(output, "report.interrupted.json");
        AtomicFile.WriteAllText(kept, report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return kept;
    }

    /// <summary>
    /// The validation pass over the whole pipeline: creates every step and compressor, in order, and lets each create
    /// the components it uses (<see cref="IPipelineStep.Prepare"/>: evaluate's evaluator), so that a misspelt evaluator
    /// option fails here rather than after an hour of training.
    /// </summary>
    private static void PrepareSteps(IReadOnlyList<PlannedStep> plan, PipelineContext context, ComponentFactory factory)
    {
        for (var index = 0; index < plan.Count; index++)
        {
            var planned = plan[index];
            if (planned.Descriptor.Kind == ComponentKind.PointTransform) continue;
            planned.Instance = factory.Create<IPipelineStep>(planned.Component);
            context.CurrentStep = (index, planned.Descriptor.Name);
            planned.Instance.Prepare(context);
        }
    }

    private static StepOutcome RunStep(PlannedStep planned, PipelineContext context, ComponentFactory factory, List<(string, IPointTransform, PointCountTally)> tallies)
    {
        if (planned.Instance is { } step) return step.Run(context);
        // A point transform: from here on, every split is seen through it.
        var transform = factory.Create<IPointTransform>(planned.Component);
        var tally = context.AddTransform(transform);
        tallies.Add(($"{context.CurrentStep.Index}:{planned.Descriptor.Name}", transform, tally));
        var outcome = new StepOutcome();
        outcome.Notes.Add($"From here on every split is seen through: {transform.Describe()}.");
        return outcome;
    }

    private string Contained(string output) => ContainedPaths.Check(output, OutputRoot, "Pipeline:Output");

    /// <summary>
    /// The NVIDIA driver's model name of the GPU (its /proc entries; TorchSharp does not expose the CUDA device
    /// properties), so a report says which card its timings came from. The N-th entry in bus order, which is CUDA's
    /// default order unless CUDA_VISIBLE_DEVICES or CUDA_DEVICE_ORDER reorder it.
    /// </summary>
    internal static string? AcceleratorName(torch.Device device)
    {
        if (device.type != DeviceType.CUDA) return null;
        try
        {
            const string root = "/proc/driver/nvidia/gpus";
            if (!Directory.Exists(root)) return null;
            var gpus = Directory.GetDirectories(root).Order(StringComparer.Ordinal).ToList();
            var index = Math.Max(0, (int)device.index);
            if (index >= gpus.Count) return null;
            var model = File.ReadLines(Path.Combine(gpus[index], "information")).FirstOrDefault(l => l.StartsWith("Model:", StringComparison.Ordinal));
            return model?["Model:".Length..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static torch.Device ResolveDevice(string name)
    {
        if (name == "cpu") return torch.CPU;
        if (name == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (!torch.cuda.is_available())
            throw new PlatformException($"Pipeline:Device: '{name}' was asked for, but this TorchSharp build or machine has no CUDA; use cpu.");
        return new torch.Device(name);
    }
}

/// <summary>A step threw: the report already records it; this carries the step's index and name to the CLI.</summary>
public sealed class StepFailedException(int index, string use, string message, Exception inner)
    : Exception($"step {index} '{use}' failed: {message}", inner);
