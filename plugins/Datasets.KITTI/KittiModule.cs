using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>Registers the KITTI dataset, its AP evaluator, its throughput step and its two commands.</summary>
public sealed class KittiModule : Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterDataset<KittiDataset, KittiOptions>("kitti",
            "KITTI 3D object layout (velodyne, label_2, calib, ImageSets), streamed from disk; generates the synthetic KITTI-format set when asked.");
        builder.RegisterEvaluator<KittiApEvaluator, KittiApOptions>("kitti-ap",
            "KITTI AP by the devkit protocol: 2D / BEV / 3D, easy / moderate / hard, R40 and R11; writes KITTI result files.");
        builder.RegisterStep<KittiThroughputStep, KittiThroughputOptions>("kitti-throughput", "Times the KITTI data path: synthetic generation, reads, crop, the model's collation (e.g. voxelization), kitti-ap evaluation.");
        builder.RegisterCommand<EvalKittiCommand, EvalKittiOptions>("eval-kitti",
            "KITTI AP of label_2-format result files against ground truth (--gt DIR --det DIR [--split val] [--classes Car,Pedestrian]).");
        builder.RegisterCommand<KittiSynthCommand, KittiSynthOptions>("data kitti-synth",
            "Writes a synthetic KITTI object tree by ray casting a 64-beam lidar (--out DIR --train N --val N --test N --seed S).");
    }
}
