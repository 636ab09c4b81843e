using System.Text.Json;
using Platform.Abstractions.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Models;

/// <summary>
/// The common half of every model plugin: the spec used to rebuild it, masks, and the prunable
/// layers found by walking the module tree (every Conv1d/2d/3d and Linear weight). A derived class
/// supplies the network and says, through <see cref="FlopsPerWeight"/>, how many times each weight is
/// used per sample at its configured input size.
/// </summary>
public abstract class ModelBase : IModel
{
    private IReadOnlyList<PrunableLayer>? _prunable;

    protected ModelBase(string use, object options, DatasetInfo dataset)
    {
        Spec = new ModelSpec(use, JsonSerializer.Serialize(options, options.GetType()), dataset);
    }

    public ModelSpec Spec { get; }
    public abstract ModelTask Task { get; }
    public abstract nn.Module Module { get; }
    public WeightMasks Masks { get; } = new();
    public virtual double OtherFlopsPerSample => 0;
    public abstract IReadOnlyList<DistortionOutput> DistortionOutputs { get; }

    /// <summary>
    /// The prunable layers, found once and found again after the module moved: Module.to (device or dtype) replaces
    /// the parameter tensors and disposes the old ones, and a view kept across the move pointed at disposed tensors
    /// (every cuda run that loaded a checkpoint failed at its first step with "Tensor invalid -- empty handle").
    /// </summary>
    public IReadOnlyList<PrunableLayer> PrunableLayers
    {
        get
        {
            if (_prunable is null || _prunable.Any(l => l.Weight.IsInvalid)) _prunable = FindPrunableLayers();
            return _prunable;
        }
    }

    /// <summary>MACs per sample that one weight of this layer costs (for a conv: output positions; for a linear: rows it is applied to).</summary>
    protected abstract double FlopsPerWeight(string layerName, nn.Module layer);

    public abstract ModelBatch Collate(IReadOnlyList<Sample> samples, Device device);
    public virtual ModelBatch CollateInputs(IReadOnlyList<Sample> samples, Device device) => Collate(samples, device);

    public virtual bool CollatesOffThread => false;
    public abstract ModelOutput Forward(ModelBatch batch);
    public abstract LossTerms Loss(ModelOutput output, ModelBatch batch);
    public abstract IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch);

    private List<PrunableLayer> FindPrunableLayers()
    {
        var layers = new List<PrunableLayer>();
        foreach (var (name, module) in Module.named_modules())
        {
            var kind = module switch
            {
                TorchSharp.Modules.Conv1d => "conv1d",
                TorchSharp.Modules.Conv2d => "conv2d",
                TorchSharp.Modules.Conv3d => "conv3d",
                TorchSharp.Modules.ConvTranspose2d => "deconv2d",
                TorchSharp.Modules.Linear => "linear",
                _ => null,
            };
            if (kind is null) continue;
            var weight = module.named_parameters(recurse: false).First(p => p.name == "weight").parameter;
            layers.Add(new PrunableLayer(name, weight, FlopsPerWeight(name, module), kind));
        }
        return layers;
    }

    public virtual void Dispose()
    {
        Masks.Dispose();
        Module.Dispose();
        GC.SuppressFinalize(this);
    }
}
