using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Sparsify.Points;

/// <summary>Registers the point sparsification transforms under their pipeline names.</summary>
public sealed class SparsifyPointsModule : Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterPointTransform<VoxelDownsample, VoxelDownsampleOptions>(
            "voxel-downsample", "Voxel-grid downsampling: one point per occupied voxel (centroid of all features, or the first point).");
        builder.RegisterPointTransform<RandomDrop, RandomDropOptions>(
            "random-drop", "Uniform random drop keeping a fixed fraction of each cloud's points, seeded.");
        builder.RegisterPointTransform<RangeCrop, RangeCropOptions>(
            "range-crop", "Keeps points inside an x/y/z box, a horizontal distance band and a horizontal field of view.");
        builder.RegisterPointTransform<GroundRemoval, GroundRemovalOptions>(
            "ground-removal", "Removes the ground: RANSAC plane fit with a slope limit, inliers within a distance threshold dropped.");
        builder.RegisterPointTransform<DistanceAdaptiveDrop, DistanceAdaptiveOptions>(
            "distance-adaptive", "Denser far, sparser near: keeps a point with probability (range / ReferenceRange)^Exponent, clamped.");
    }
}
