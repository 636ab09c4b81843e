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
        // Structured: channels removed physically (models that declare IChannelPrunable), so the pruned model runs faster.
        builder.RegisterCompressor<ChannelDPCompressor, ChannelPruningOptions>("channel-dp",
            "DM3D's allocation for channels: per channel group, measured output distortion at each keep ratio, exact DP over a FLOPs budget; the model is rebuilt smaller.");
        builder.RegisterCompressor<UniformChannelsCompressor, ChannelPruningOptions>("uniform-channels",
            "Baseline: the same kept fraction of channels in every group (a width multiplier), to a FLOPs budget; the model is rebuilt smaller.");
        builder.RegisterCompressor<GlobalChannelsCompressor, ChannelPruningOptions>("global-channels",
            "Baseline: filter pruning by importance (Li et al., ICLR 2017) with one threshold over all groups, to a FLOPs budget; the model is rebuilt smaller.");
        builder.RegisterStep<ChannelUsageStep, ChannelUsageStepOptions>("channel-usage",
            "Diagnosis: remove each channel of a channel-prunable model alone and count those whose removal leaves the outputs unchanged (dead units).");
    }
}
