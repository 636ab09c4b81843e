using System.ComponentModel.DataAnnotations;
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
            var transform = container.ResolveKeyed<IPointTransform>(d.Key, new TypedParameter(d.OptionsType, Activator.CreateInstance(d.OptionsType)!));
            Assert.That(transform.Describe(), Does.StartWith(d.Name + ":"));
            var result = transform.Apply(cloud, 0);
            Assert.That(result.PointCount, Is.InRange(1, cloud.PointCount), d.Name);
            Assert.That(result.PointFeatures, Is.EqualTo(4));
        }
    }

    [TestCase(typeof(VoxelDownsampleOptions))]
    [TestCase(typeof(RandomDropOptions))]
    [TestCase(typeof(RangeCropOptions))]
    [TestCase(typeof(GroundRemovalOptions))]
    [TestCase(typeof(DistanceAdaptiveOptions))]
    public void Every_default_option_value_satisfies_its_own_range_attribute(Type optionsType)
    {
        var options = Activator.CreateInstance(optionsType)!;
        var results = new List<ValidationResult>();
        Assert.That(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true), Is.True,
            string.Join("; ", results.Select(r => r.ErrorMessage)));
    }

    [Test]
    public void The_range_attributes_reject_what_the_constructors_reject()
    {
        // The host validates [Range] when it binds a pipeline file; the constructors check again for code callers.
        object[] bad = [new VoxelDownsampleOptions { VoxelSize = -0.1f }, new RandomDropOptions { KeepRatio = 1.5f }, new GroundRemovalOptions { Iterations = 0 }];
        string[] member = ["VoxelSize", "KeepRatio", "Iterations"];
        for (var i = 0; i < bad.Length; i++)
        {
            var results = new List<ValidationResult>();
            Assert.That(Validator.TryValidateObject(bad[i], new ValidationContext(bad[i]), results, validateAllProperties: true), Is.False);
            Assert.That(results.Single().MemberNames, Is.EqualTo(new[] { member[i] }));
        }
    }
}
