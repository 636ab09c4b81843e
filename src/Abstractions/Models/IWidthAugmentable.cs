using TorchSharp.Modules;

namespace Platform.Abstractions.Models;

/// <summary>
/// A model that supports network augmentation (Cai et al., "Network Augmentation for Tiny Deep
/// Learning", ICLR 2022; stage 1 of T3DNet): it can run as a wider network whose weight tensors hold
/// this model's weights as their leading slices, so training the wide network also trains the tiny one.
/// Lives in the contracts because the compressor and the model come from different plugins.
/// </summary>
public interface IWidthAugmentable : IModel
{
    /// <summary>Creates the extra weights for widths up to <paramref name="maxWidthFactor"/> times this model's own.</summary>
    void EnableAugmentation(double maxWidthFactor);

    /// <summary>The extra weights (not this model's own parameters) that the optimiser must also train.</summary>
    IReadOnlyList<Parameter> AugmentationParameters { get; }

    /// <summary>Forward at <paramref name="widthFactor"/> × this model's width (1 is the model itself).</summary>
    ModelOutput ForwardAugmented(ModelBatch batch, double widthFactor);

    /// <summary>How many layers the augmented forward widens; each can take a width factor of its own.</summary>
    int AugmentedLayerCount { get; }

    /// <summary>
    /// Forward with augmented layer i at <paramref name="layerWidthFactors"/>[i] × its own width, one factor per layer
    /// (<see cref="AugmentedLayerCount"/> of them): NetAug samples the augmented width per layer.
    /// </summary>
    ModelOutput ForwardAugmented(ModelBatch batch, IReadOnlyList<double> layerWidthFactors);

    /// <summary>Drops the extra weights: afterwards the model is the tiny model alone.</summary>
    void DisableAugmentation();
}
