using Platform.Abstractions.Data;
using Platform.Abstractions.Models;

namespace Platform.Abstractions.Pipeline;

/// <summary>One step of a pipeline (train, evaluate, a compressor...). It changes the context and reports what it measured.</summary>
public interface IPipelineStep
{
    /// <summary>
    /// Called for every step, in order, before the first one runs (the dataset exists, the model may not yet): create here,
    /// through <see cref="PipelineContext.Components"/>, the components this step will use (an evaluator, say), so that a
    /// wrong name or option stops the run before hours of training rather than after.
    /// </summary>
    void Prepare(PipelineContext context)
    {
    }

    StepOutcome Run(PipelineContext context);
}

/// <summary>A step that changes the model (masks, removed channels) or replaces it (a distilled student).</summary>
public interface ICompressor : IPipelineStep;

/// <summary>
/// What a step measured: scalar metrics (for report.json), optional series (plotted as PNG), tables
/// (rendered in report.md) and files it wrote (relative to the output folder).
/// </summary>
public sealed class StepOutcome
{
    /// <summary>
    /// Metric names are camelCase (<c>flopsReduction</c>, <c>forwardMsMedian</c>); a '/' adds a qualifier or a breakdown
    /// (<c>flops/backbone</c>, <c>speedup/threads=2</c>, <c>distillation/kl</c>, <c>Car/3d/moderate/R40</c>). Names taken
    /// from data, such as class names, stay as the data spells them. Bench files and tests name metrics this way.
    /// </summary>
    public Dictionary<string, double> Metrics { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Series> Series { get; } = new(StringComparer.Ordinal);
    public List<ReportTable> Tables { get; } = [];
    public List<string> Files { get; } = [];
    public List<string> Notes { get; } = [];

    /// <summary>What identifies the step's inputs and outputs beyond numbers: a checkpoint's path and SHA-256, for example.</summary>
    public Dictionary<string, string> Provenance { get; } = new(StringComparer.Ordinal);

    /// <summary>Set by evaluators whose metrics can be recomputed on resampled samples; the host then reports intervals.</summary>
    public IResamplableMetrics? Resamplable { get; set; }

    public static StepOutcome Empty => new();
}

/// <summary>A named curve: x and y values with axis labels.</summary>
public sealed record Series(string XLabel, string YLabel, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>A small table for report.md.</summary>
public sealed record ReportTable(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>Scores predictions against ground truth (KITTI AP, accuracy...).</summary>
public interface IEvaluator
{
    /// <param name="items">Each evaluated sample (without its points) with the model's prediction.</param>
    /// <param name="dataset">What the classes are.</param>
    /// <param name="outputDirectory">Where the evaluator may write result files (a folder of its own).</param>
    StepOutcome Evaluate(IReadOnlyList<(Sample Sample, Prediction Prediction)> items, DatasetInfo dataset, string outputDirectory);
}

/// <summary>
/// An evaluation whose headline metrics can be recomputed with each evaluated sample counted a given number of
/// times: what a bootstrap over samples needs (Efron and Tibshirani, ch. 6), and, with the same counts applied
/// to two evaluations of the same samples, a paired interval for their difference.
/// </summary>
public interface IResamplableMetrics
{
    /// <summary>Ids of the evaluated samples, in the order <see cref="Compute"/> reads its counts.</summary>
    IReadOnlyList<string> SampleIds { get; }

    /// <summary>The metrics that get intervals, with sample i counted <paramref name="counts"/>[i] times.</summary>
    IReadOnlyDictionary<string, double> Compute(int[] counts);
}
