using Platform.Abstractions.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Models;

public enum ModelTask
{
    Classification,
    Detection3D,
}

/// <summary>
/// A trainable, prunable point-cloud model. Implementations usually derive from <see cref="ModelBase"/>,
/// which provides masks, FLOPs bookkeeping and checkpoints; this interface is what steps rely on.
/// </summary>
public interface IModel : IDisposable
{
    ModelTask Task { get; }

    /// <summary>The TorchSharp module: parameters, train/eval mode, device moves.</summary>
    nn.Module Module { get; }

    /// <summary>Every conv and linear weight that a compressor may sparsify, with its FLOPs per weight.</summary>
    IReadOnlyList<PrunableLayer> PrunableLayers { get; }

    /// <summary>Multiply-accumulates outside the prunable layers per sample (norms, pooling, scatter...).</summary>
    double OtherFlopsPerSample { get; }

    /// <summary>Weight masks: a removed weight is zero and stays zero through training, save and load.</summary>
    WeightMasks Masks { get; }

    /// <summary>Turns samples into the tensors the network eats, on <paramref name="device"/>, with the training targets <see cref="Loss"/> reads.</summary>
    ModelBatch Collate(IReadOnlyList<Sample> samples, Device device);

    /// <summary>
    /// The same for inference: only what <see cref="Forward"/> and <see cref="Predict"/> read. A detector's targets
    /// (heatmaps drawn on the CPU) cost more than its voxelization on a GPU, so evaluation and latency use this.
    /// </summary>
    ModelBatch CollateInputs(IReadOnlyList<Sample> samples, Device device) => Collate(samples, device);

    /// <summary>
    /// Whether <see cref="Collate"/> and <see cref="CollateInputs"/> may run on another thread while the previous batch is
    /// used: they draw no torch random numbers and touch nothing the forward or backward pass uses. Training
    /// (TrainingLoopOptions.PrefetchBatch) and inference then prepare the next batch during the step (Kit/BatchPrefetch),
    /// which hides host-side collation on a GPU. False unless the model says so.
    /// </summary>
    bool CollatesOffThread => false;

    ModelOutput Forward(ModelBatch batch);

    /// <summary>The training criterion: a scalar loss and its named terms (for logs).</summary>
    LossTerms Loss(ModelOutput output, ModelBatch batch);

    /// <summary>Decoded predictions, one per sample in the batch.</summary>
    IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch);

    /// <summary>Which outputs a distortion between a dense and a compressed model compares, and how.</summary>
    IReadOnlyList<DistortionOutput> DistortionOutputs { get; }

    /// <summary>How to build this model again (component name, options), stored in checkpoints.</summary>
    ModelSpec Spec { get; }
}

/// <summary>The registered component name and its options as JSON: enough to rebuild the architecture.</summary>
public sealed record ModelSpec(string Use, string OptionsJson, DatasetInfo Dataset)
{
    /// <summary>Why a checkpoint trained on <paramref name="saved"/>'s classes cannot be the model of a pipeline on <paramref name="current"/>'s.</summary>
    public static string ClassMismatch(string checkpointPath, DatasetInfo saved, DatasetInfo current) =>
        $"{checkpointPath} was trained on {saved.Name}'s classes [{string.Join(", ", saved.ClassNames)}], the pipeline's dataset " +
        $"{current.Name} has [{string.Join(", ", current.ClassNames)}]: its outputs would be read as the wrong classes. " +
        "Set the load step's AllowModelChange: true to load it as saved anyway.";
}

/// <summary>A batch in the model's own layout; <see cref="Samples"/> keeps the annotations for loss and decoding.</summary>
public class ModelBatch(IReadOnlyList<Sample> samples, IReadOnlyDictionary<string, Tensor> tensors) : IDisposable
{
    public IReadOnlyList<Sample> Samples { get; } = samples;
    public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;
    public Tensor this[string name] => Tensors[name];

    public virtual void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Named output tensors of a forward pass (logits; or heatmap, offsets, sizes...).</summary>
public sealed class ModelOutput(IReadOnlyDictionary<string, Tensor> tensors)
{
    public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;
    public Tensor this[string name] => Tensors[name];
}

public sealed record LossTerms(Tensor Total, IReadOnlyDictionary<string, double> Terms);

/// <summary>A decoded prediction: a class (with probabilities) for classifiers, boxes for detectors.</summary>
public sealed record Prediction
{
    public int ClassId { get; init; } = -1;
    public float[] Probabilities { get; init; } = [];
    public IReadOnlyList<Box3D> Boxes { get; init; } = [];
}

/// <summary>Which part of the output a term measures: DM3D weighs confidence and locality separately.</summary>
public enum DistortionGroup
{
    Confidence,
    Locality,
    Logits,
}

/// <summary>One output tensor that takes part in the output distortion, and the transform applied before comparing.</summary>
public sealed record DistortionOutput(string Name, DistortionGroup Group, bool ApplySigmoid = false);

/// <summary>A weight that compressors may sparsify. <see cref="FlopsPerWeight"/>: MACs each non-zero weight costs per sample.</summary>
public sealed record PrunableLayer(string Name, TorchSharp.Modules.Parameter Weight, double FlopsPerWeight, string Kind)
{
    public long WeightCount => Weight.numel();
}
