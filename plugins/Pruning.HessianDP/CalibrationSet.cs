using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// The calibration samples, batched once, with the dense model's outputs on them: the reference that
/// the output distortion D(w') = Σ_outputs weight·mean((f(w') − f(w))²) (Kit/OutputDistortion) compares to.
/// </summary>
internal sealed class CalibrationSet : IDisposable
{
    private readonly List<ModelBatch> _batches;
    private readonly List<ModelOutput> _reference;
    private List<Tensor>? _foregroundCells;
    private double _foregroundWeight;

    private CalibrationSet(List<ModelBatch> batches, List<ModelOutput> reference, DistortionWeights weights, int samples, IReadOnlyDictionary<string, double> input,
        bool useStages)
    {
        UseStages = useStages;
        _batches = batches;
        _reference = reference;
        Weights = weights;
        Samples = samples;
        Input = input;
    }

    /// <summary>The model's own figures of the calibration input (IDescribesInput), averaged per sample; empty when it gives none.</summary>
    public IReadOnlyDictionary<string, double> Input { get; }

    /// <summary>What one sample costs at this input, where the model's cost depends on it (null otherwise).</summary>
    public InputCosts? CostsOf(IModel model) => model is IDescribesInput describes && Input.Count > 0 ? describes.CostsAt(Input) : null;

    public IReadOnlyList<ModelBatch> Batches => _batches;

    /// <summary>Whether <see cref="StartAt"/> may start at a stage (the option CurveStages).</summary>
    public bool UseStages { get; }
    public DistortionWeights Weights { get; }
    public int Samples { get; }

    public static DistortionWeights WeightsOf(PruningBudgetOptions options) =>
        new(options.ConfidenceWeight, options.LocalityWeight, options.LogitsWeight)
        {
            Kind = options.Distortion,
            ForegroundThreshold = options.ForegroundThreshold,
            ForegroundWeight = options.ForegroundWeight,
            PeaksPerClass = options.PeaksPerClass,
        };

    /// <summary>Reads the first CalibrationSamples of CalibrationSplit and records the (dense) model's outputs on them.</summary>
    public static CalibrationSet Load(PipelineContext context, IModel model, PruningBudgetOptions options, string step)
    {
        ISampleSource split;
        try
        {
            split = context.Split(options.CalibrationSplit);
        }
        catch (KeyNotFoundException e)
        {
            throw new ArgumentException($"Step '{step}': option CalibrationSplit='{options.CalibrationSplit}' names no split of the dataset ({e.Message}).", e);
        }
        var count = Math.Min(options.CalibrationSamples, split.Count);
        if (count == 0)
            throw new ArgumentException($"Step '{step}': option CalibrationSamples={options.CalibrationSamples} on split '{split.Name}' ({split.Count} samples) leaves no calibration sample.");
        if (model.DistortionOutputs.Count == 0)
            throw new InvalidOperationException($"Step '{step}': the model '{model.Spec.Use}' declares no DistortionOutputs, so there is no output distortion to minimise.");
        var weights = WeightsOf(options);
        if (model.DistortionOutputs.All(o => weights.For(o.Group) == 0))
            throw new ArgumentException($"Step '{step}': the options ConfidenceWeight/LocalityWeight/LogitsWeight give weight 0 to every output of '{model.Spec.Use}' ({string.Join(", ", model.DistortionOutputs.Select(o => $"{o.Name}: {o.Group}"))}).");

        return Record(context, model, split, count, options.CalibrationBatchSize, weights, options.CurveStages, step);
    }

    /// <summary>
    /// The first <paramref name="count"/> samples of <paramref name="split"/> in batches of <paramref name="batchSize"/>, with
    /// the model's outputs on them recorded as the reference; the caller has checked its options (see <see cref="Load"/>).
    /// </summary>
    public static CalibrationSet Record(PipelineContext context, IModel model, ISampleSource split, int count, int batchSize, DistortionWeights weights,
        bool useStages, string step)
    {
        model.Module.eval();
        var batches = new List<ModelBatch>();
        var reference = new List<ModelOutput>();
        var input = new Dictionary<string, double>();
        using var progress = context.Services.Progress.Start($"{step}: calibration samples", count);
        for (var start = 0; start < count; start += batchSize)
        {
            var samples = Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(split.Get).ToArray();
            // The collation's comparisons with scalars raced with the collector here ("Unknown scalar type" in lt, a hessian-dp
            // step of the fine-tune bench): no collection during this batch's native calls (Kit/NoGcRegion).
            using var quiet = NoGcRegion.Enter();
            var batch = model.Collate(samples, context.Services.Device);
            batches.Add(batch);
            // DescribeInput gives per-sample figures of one batch: weigh them by the batch's samples.
            if (model is IDescribesInput describes)
                foreach (var (key, value) in describes.DescribeInput(batch)) input[key] = input.GetValueOrDefault(key) + value * samples.Length / count;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var output = model.Forward(batch);
                var kept = model.DistortionOutputs.ToDictionary(o => o.Name, o => output[o.Name].detach().clone().DetachFromDisposeScope());
                reference.Add(new ModelOutput(kept));
            }
            progress.Advance(samples.Length);
        }
        return new CalibrationSet(batches, reference, weights, count, input, useStages);
    }

    public ModelOutput ReferenceOf(int batch) => _reference[batch];

    /// <summary>
    /// Per batch, [B, 1, H, W]: <paramref name="weight"/> where the dense model's first confidence map (in sigmoid space,
    /// its highest class) exceeds ForegroundThreshold, 1 elsewhere; the row weights of a reconstruction. Null when
    /// <paramref name="weight"/> is 1 or the model has no confidence output of shape [B, K, H, W]. The maps belong to
    /// this set, like the reference outputs they are read from, and go with it; asked again with the same weight (the
    /// curves' refit, then the final one), the same maps are returned.
    /// </summary>
    public IReadOnlyList<Tensor>? ForegroundCells(IModel model, double weight, StepOutcome outcome, string step)
    {
        if (weight == 1) return null;
        var confidence = model.DistortionOutputs.FirstOrDefault(o => o.Group == DistortionGroup.Confidence);
        if (confidence is null || _reference.Any(r => r[confidence.Name].dim() != 4))
        {
            outcome.Notes.Add($"{step}: ReconstructionForegroundWeight={weight} has no effect: '{model.Spec.Use}' has no confidence map of shape [B, K, H, W] to find objects on; every row weighs 1.");
            return null;
        }
        if (_foregroundCells is not null && _foregroundWeight == weight) return _foregroundCells;
        using var _ = no_grad();
        foreach (var t in _foregroundCells ?? []) t.Dispose();
        _foregroundWeight = weight;
        return _foregroundCells = _reference.Select(r =>
            (r[confidence.Name].sigmoid().amax([1], keepdim: true).gt(Weights.ForegroundThreshold).to(ScalarType.Float32) * (weight - 1) + 1).DetachFromDisposeScope()).ToList();
    }

    /// <summary>The real output distortion of the model as it is now, averaged over the calibration batches.</summary>
    public double Measure(IModel model) => Measure(model, [Weights])[0];

    /// <summary>The distortion under each of <paramref name="weights"/>, from one forward pass over the calibration batches.</summary>
    public double[] Measure(IModel model, IReadOnlyList<DistortionWeights> weights) => Measure(model, weights, b => model.Forward(_batches[b]));

    private double[] Measure(IModel model, IReadOnlyList<DistortionWeights> weights, Func<int, ModelOutput> forward)
    {
        model.Module.eval();
        using var _ = no_grad();
        var sums = new double[weights.Count];
        for (var b = 0; b < _batches.Count; b++)
        {
            using var scope = NewDisposeScope();
            // Thousands of these passes per run (measured curves): keep the collector out of the native calls (Kit/NoGcRegion).
            using var quiet = NoGcRegion.Enter();
            var output = forward(b);
            for (var k = 0; k < weights.Count; k++)
                sums[k] += OutputDistortion.Between(model, _reference[b], output, weights[k]).to_type(ScalarType.Float64).item<double>();
        }
        return sums.Select(s => s / _batches.Count).ToArray();
    }

    /// <summary>
    /// Where measurements that change only the weights of <paramref name="layers"/> (module names) can start: with a model
    /// that runs in stages (<see cref="IStagedForward"/>), the calibration batches' state entering the first stage that reads
    /// any of them, computed once from the model as it is now; each <see cref="StartingPoint.Measure"/> then runs only the
    /// rest of the network. Valid while no layer of an earlier stage changes. Other models, layers the model cannot place,
    /// and <see cref="UseStages"/> false measure with the whole forward pass.
    /// </summary>
    public StartingPoint StartAt(IModel model, IEnumerable<string> layers)
    {
        var stage = UseStages && model is IStagedForward s ? layers.Select(s.StageOf).DefaultIfEmpty(-1).Min() : -1;
        if (stage <= 0) return new StartingPoint(this, model, null, 0, []);
        var staged = (IStagedForward)model;
        model.Module.eval();
        using var _ = no_grad();
        var states = new List<IReadOnlyList<Tensor>>();
        foreach (var batch in _batches)
        {
            using var scope = NewDisposeScope();
            using var quiet = NoGcRegion.Enter();
            states.Add(staged.Enter(stage, batch).Select(t => t.detach().DetachFromDisposeScope()).ToList());
        }
        return new StartingPoint(this, model, staged, stage, states);
    }

    /// <summary>The calibration set's distortion measured from a stage's cached entering state (see <see cref="StartAt"/>).</summary>
    public sealed class StartingPoint(CalibrationSet calibration, IModel model, IStagedForward? staged, int stage, List<IReadOnlyList<Tensor>> states) : IDisposable
    {
        /// <summary>The stage the passes start at (0: the whole network runs).</summary>
        public int Stage => stage;

        /// <summary>The distortion of the model as it is now, exactly as <see cref="CalibrationSet.Measure(IModel)"/> gives it.</summary>
        public double Measure() => staged is null
            ? calibration.Measure(model)
            : calibration.Measure(model, [calibration.Weights], b => staged.ForwardFrom(stage, states[b], calibration._batches[b]))[0];

        public void Dispose()
        {
            foreach (var state in states)
                foreach (var t in state) t.Dispose();
            states.Clear();
        }
    }

    public void Dispose()
    {
        foreach (var b in _batches) b.Dispose();
        foreach (var r in _reference)
            foreach (var t in r.Tensors.Values) t.Dispose();
        foreach (var t in _foregroundCells ?? []) t.Dispose();
        _batches.Clear();
        _reference.Clear();
        _foregroundCells = null;
    }
}
