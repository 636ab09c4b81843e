using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Models.PointNet;

/// <summary>Registers the PointNet family, the shape datasets and the accuracy evaluator.</summary>
public sealed class PointNetPlugin : Autofac.Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterModel<PointNetModel, PointNetOptions>("pointnet", "PointNet classifier (T-Nets, shared MLPs, max pooling) with a width multiplier; supports network augmentation.");
        builder.RegisterModel<PointNet2SsgModel, PointNet2SsgOptions>("pointnet2-ssg", "PointNet++ SSG classifier (farthest point sampling, ball query, three set abstraction levels) with a width multiplier.");
        builder.RegisterDataset<ShapesDataset, ShapesOptions>("shapes", "Procedural shapes: 12 classes of solids and composites (Set Basic) or 36 look-alike classes in seven families (Set Families), surface-sampled with noise and partial views; deterministic by DataSeed.");
        builder.RegisterDataset<ModelNet40Dataset, ModelNet40Options>("modelnet40", "ModelNet40/10 from modelnet40_normal_resampled (text) or modelnet40_ply_hdf5_2048 (HDF5).");
        builder.RegisterEvaluator<AccuracyEvaluator, NoOptions>("accuracy", "Overall and mean class accuracy (%) with a per-class table and the confusion matrix.");
    }
}
