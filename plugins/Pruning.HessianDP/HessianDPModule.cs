using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>Registers DM3D pruning and the baselines it is measured against, swappable by name in a pipeline.</summary>
public sealed class HessianDPModule : Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterCompressor<HessianDPCompressor, HessianDPOptions>("hessian-dp",
            "DM3D post-training pruning: Gauss-Newton Hessian diagonal, per-layer distortion curves, exact DP over a FLOPs budget.");
        builder.RegisterCompressor<UniformMagnitudeCompressor, PruningOptions>("uniform-magnitude",
            "Baseline: the same sparsity in every layer, smallest magnitudes first, to a FLOPs budget.");
        builder.RegisterCompressor<GlobalMagnitudeCompressor, PruningOptions>("global-magnitude",
            "Baseline: one magnitude threshold over all layers, to a FLOPs budget.");
        builder.RegisterCompressor<LampCompressor, PruningOptions>("lamp",
            "Baseline: LAMP layer-adaptive magnitude scores (Lee et al., ICLR 2021) with one global threshold, to a FLOPs budget.");
    }
}
