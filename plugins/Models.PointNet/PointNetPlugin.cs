using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Models.PointNet;

/// <summary>Registers the PointNet family, the shape datasets and the accuracy evaluator.</summary>
public sealed class PointNetPlugin : Autofac.Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterModel<PointNetModel, PointNetOptions>("pointnet", "PointNet classifier (T-Nets, shared MLPs, max pooling) with a width multiplier; supports network augmentation.");
    }
}
