using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.Onnx;

public sealed class ExportOnnxOptions
{
    [Description("The ONNX file to write (relative to the working directory, inside the output root); empty: model-stepN.onnx in the run's output folder (N: this step's index).")]
    public string? Path { get; set; }

    [Description("Split whose samples the export takes its input shapes from and checks ONNX Runtime on.")]
    public string Split { get; set; } = "val";

    [Description("Samples checked (and timed), one batch each.")]
    [Range(1, 1000)]
    public int Samples { get; set; } = 4;

    [Description("Largest allowed difference between ONNX Runtime's and the model's outputs, relative to the output's largest absolute value; above it the file is not written and the step fails.")]
    [Range(0.0, 1.0)]
    public double Tolerance { get; set; } = 1e-4;

    [Description("Thread counts at which to time the model (TorchSharp) and the ONNX Runtime session alternately on each sample, e.g. [1, 2]; empty: not timed.")]
    public List<int> TimeThreads { get; set; } = [];

    [Description("Timed passes over the samples at each thread count (the median is reported).")]
    [Range(1, 1000)]
    public int Repeats { get; set; } = 5;

    [Description("Untimed passes first.")]
    [Range(0, 100)]
    public int Warmup { get; set; } = 1;
}

/// <summary>
/// Writes the pipeline's model (dense, masked or channel-pruned) as an ONNX graph, runs the file in ONNX Runtime on samples
/// of a split and compares its outputs with the model's: a file that disagrees beyond the tolerance is not written. Optionally
/// times both runtimes on the same inputs in the same process.
/// </summary>
public sealed class ExportOnnxStep(ExportOnnxOptions options, RunServices services) : IPipelineStep
{
    /// <summary>A path outside the output root is refused before the first step runs.</summary>
    public void Prepare(PipelineContext context) => Target(context);

    private string Target(PipelineContext context) => services.ContainedPath(
        string.IsNullOrEmpty(options.Path) ? System.IO.Path.Combine(services.OutputDirectory, $"model-step{context.CurrentStep.Index}.onnx") : options.Path,
        $"Pipeline:Steps:{context.CurrentStep.Index}:Options:Path");

    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("export-onnx") as IGraphExportable
                    ?? throw new NotSupportedException($"export-onnx: model '{context.Model!.Spec.Use}' cannot be written as ONNX (it does not implement IGraphExportable).");
        if (options.TimeThreads.FirstOrDefault(t => t < 1 || t > Environment.ProcessorCount * 4) is var bad && bad != 0)
            throw new ArgumentException($"export-onnx option TimeThreads: {bad} is not a thread count this machine can use (1 to {Environment.ProcessorCount * 4}).");
        var split = context.Split(options.Split);
        var batchSize = model.GraphBatchSize ?? 1;
        var count = Math.Min(options.Samples, split.Count / batchSize);
        if (count == 0) throw new ArgumentException($"export-onnx: split '{options.Split}' has fewer than {batchSize} samples.");
        var device = model.Module.parameters().FirstOrDefault()?.device ?? CPU;
        var batches = Enumerable.Range(0, count)
            .Select(b => model.CollateInputs(Enumerable.Range(b * batchSize, batchSize).Select(split.Get).ToArray(), device)).ToList();
        var path = Target(context);
        var outcome = new StepOutcome();
        try
        {
            model.Module.eval();
            var proto = OnnxExport.Build(model, batches[0]);
            // Checked (and timed) as the temporary file, before it is renamed: a file that fails the check never replaces a good one.
            OnnxExport.Write(proto, path, written =>
            {
                var agreement = OnnxExport.Compare(written, model, batches);
                outcome.Metrics["maxAbsDifference"] = agreement.MaxAbsoluteDifference;
                outcome.Metrics["maxRelativeDifference"] = agreement.MaxRelativeDifference;
                if (!(agreement.MaxRelativeDifference <= options.Tolerance))
                    throw new InvalidOperationException(
                        $"export-onnx: ONNX Runtime's output '{agreement.WorstOutput}' differs from the model's by {agreement.MaxRelativeDifference:G3} of its scale " +
                        $"(largest absolute difference {agreement.MaxAbsoluteDifference:G3}), above the tolerance {options.Tolerance:G3}; {path} was not written.");
                foreach (var threads in options.TimeThreads)
                {
                    var (torchSeconds, ortSeconds) = OnnxExport.Time(written, model, batches, threads, options.Repeats, options.Warmup);
                    outcome.Metrics[$"torchForwardMsMedian/threads={threads}"] = torchSeconds * 1e3;
                    outcome.Metrics[$"onnxRuntimeMsMedian/threads={threads}"] = ortSeconds * 1e3;
                    outcome.Metrics[$"onnxRuntimeSpeedup/threads={threads}"] = torchSeconds / ortSeconds;
                }
            });
            outcome.Metrics["bytes"] = new FileInfo(path).Length;
            outcome.Metrics["nodes"] = proto.Graph.Node.Count;
            outcome.Metrics["opset"] = OnnxExport.Opset;
            outcome.Metrics["checkedBatches"] = batches.Count;
            outcome.Files.Add(path);
            outcome.Provenance["onnx"] = path;
            outcome.Tables.Add(new ReportTable("ONNX graph", ["input", "shape"],
                proto.Graph.Input.Select(i => (IReadOnlyList<string>)[i.Name, string.Join(" x ", i.Type.TensorType.Shape.Dim.Select(d => d.DimParam is { Length: > 0 } p ? p : d.DimValue.ToString()))]).ToList()));
            outcome.Notes.Add($"Checked in ONNX Runtime on {batches.Count} batch(es) of '{options.Split}' (batch size {batchSize}); differences are relative to each output's largest absolute value." +
                              (options.TimeThreads.Count > 0 ? " Latency: the model's forward and the ONNX Runtime session run alternately on each batch, same inputs, same process." : ""));
            return outcome;
        }
        finally
        {
            foreach (var batch in batches) batch.Dispose();
        }
    }
}

/// <summary>Registers the ONNX export step.</summary>
public sealed class InteropOnnxModule : Autofac.Module
{
    protected override void Load(Autofac.ContainerBuilder builder) =>
        builder.RegisterStep<ExportOnnxStep, ExportOnnxOptions>("export-onnx",
            "Write the model as an ONNX graph (opset 17), checked against the model's outputs in ONNX Runtime; optionally time both runtimes.");
}
