using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points.Tests;

public class SparsifyPointsModuleTests
{
    [Test]
    public void The_module_registers_the_five_transforms_and_each_resolves_with_its_default_options()
    {
        var builder = new ContainerBuilder();
        builder.RegisterModule<SparsifyPointsModule>();
        using var container = builder.Build();

        var descriptors = container.Resolve<IEnumerable<ComponentDescriptor>>().ToArray();
        Assert.That(descriptors.Select(d => d.Name),
            Is.EquivalentTo(new[] { "voxel-downsample", "random-drop", "range-crop", "ground-removal", "distance-adaptive" }));
        Assert.That(descriptors.Select(d => d.Kind), Is.All.EqualTo(ComponentKind.PointTransform));

        var cloud = Clouds.Spread(200);
        foreach (var d in descriptors)
        {
            var transform = container.ResolveKeyed<IPointTransform>(d.Name, new TypedParameter(d.OptionsType, Activator.CreateInstance(d.OptionsType)!));
            Assert.That(transform.Describe(), Does.StartWith(d.Name + ":"));
            var result = transform.Apply(cloud, 0);
            Assert.That(result.PointCount, Is.InRange(1, cloud.PointCount), d.Name);
            Assert.That(result.PointFeatures, Is.EqualTo(4));
        }
    }
}
