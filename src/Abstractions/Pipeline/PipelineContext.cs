using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;

namespace Platform.Abstractions.Pipeline;

/// <summary>
/// The state one pipeline run carries from step to step: the model being compressed (with its masks),
/// the dataset as seen through the point transforms applied so far, an optional teacher, and the
/// services of the run. Steps read and replace these.
/// </summary>
public sealed class PipelineContext
{
    private readonly List<(IPointTransform Transform, PointCountTally Tally)> _transforms = [];
    private readonly Dictionary<Type, object> _values = [];

    public PipelineContext(RunServices services, IDataset dataset, IComponentFactory components)
    {
        Services = services;
        Dataset = dataset;
        Components = components;
    }

    public RunServices Services { get; }
    public IDataset Dataset { get; }

    /// <summary>Creates components by name: the only way a step gets one.</summary>
    public IComponentFactory Components { get; }
    public IModel? Model { get; set; }
    public IModel? Teacher { get; set; }

    /// <summary>The checkpoint a 'load' step last loaded the pipeline's model from (train's SkipIfLoaded reads it); null when none did.</summary>
    public string? ModelLoadedFrom { get; set; }

    /// <summary>
    /// Leaves a value for later steps (a pruning plan, say). Its type <typeparamref name="T"/> is its key, so a reader gets
    /// it typed and no key string can be misspelt; a later value of the same type replaces the earlier one.
    /// </summary>
    public void Set<T>(T value) where T : class => _values[typeof(T)] = value;

    /// <summary>The value of type <typeparamref name="T"/> an earlier step left with <see cref="Set{T}"/>, or null.</summary>
    public T? Get<T>() where T : class => _values.TryGetValue(typeof(T), out var value) ? (T)value : null;

    /// <summary>
    /// The first evaluation of each split by each evaluator (key "split|evaluator"), kept so that later
    /// evaluations of the same samples (after compression) report a paired interval of their difference.
    /// </summary>
    public Dictionary<string, (int StepIndex, IResamplableMetrics Evaluation)> ReferenceEvaluations { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The first forward latency measured in this run at each torch thread count (seconds per sample), so that a later
    /// measurement (after compression) reports its speed-up against it, timed in the same process.
    /// </summary>
    public Dictionary<int, double> ReferenceLatencies { get; } = [];

    /// <summary>The step running now: its index in the pipeline and its component name (for folder and file names).</summary>
    public (int Index, string Use) CurrentStep { get; set; }

    /// <summary>A folder of the run's output reserved for the current step, created on first use.</summary>
    public string StepDirectory(string purpose)
    {
        var path = Path.Combine(Services.OutputDirectory, $"{CurrentStep.Index:D2}-{CurrentStep.Use}-{purpose}");
        Directory.CreateDirectory(path);
        return path;
    }

    public int Seed => Services.Seed;
    public ILogger Logger => Services.CreateLogger("pipeline");

    public IModel RequireModel(string step) =>
        Model ?? throw new InvalidOperationException($"Step '{step}' needs a model, and the pipeline has none at this point (add a Model section, or a 'load' step before it).");

    /// <summary>A split of the dataset with every point transform added so far applied to each sample.</summary>
    public ISampleSource Split(string name) =>
        _transforms.Count == 0 ? Dataset.GetSplit(name) : new TransformedSampleSource(Dataset.GetSplit(name), _transforms.ToArray(), Seed);

    /// <summary>Adds a transform for every later step; returns its tally of points in and out.</summary>
    public PointCountTally AddTransform(IPointTransform transform)
    {
        var tally = new PointCountTally();
        _transforms.Add((transform, tally));
        return tally;
    }

    public IReadOnlyList<string> TransformDescriptions => _transforms.Select(t => t.Transform.Describe()).ToArray();
}
