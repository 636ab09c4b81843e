using Autofac;
using Platform.Abstractions.Components;
using Platform.Host.Steps;

namespace Platform.Host.Composition;

/// <summary>
/// The composition root, read in one place: plugins discovered and loaded (<see cref="PluginCatalog"/>), one Autofac
/// container built from the host's module and every plugin's, the <see cref="ComponentRegistry"/> of what they
/// registered, and a <see cref="ComponentFactory"/> per run. Nothing else builds a container or holds one.
/// </summary>
public sealed class PlatformHost : IDisposable
{
    private readonly IContainer _container;

    private PlatformHost(PluginCatalog catalog, IContainer container)
    {
        Catalog = catalog;
        _container = container;
        Registry = new ComponentRegistry(container.Resolve<IEnumerable<ComponentDescriptor>>(), catalog.Plugins);
    }

    public PluginCatalog Catalog { get; }
    public ComponentRegistry Registry { get; }

    /// <param name="extraPluginRoots">Folders given with --plugins, scanned after the default plugin folder.</param>
    public static PlatformHost Build(IEnumerable<string> extraPluginRoots, bool includeDefaultRoot = true)
    {
        // The default folder may not exist (a host copied elsewhere, tests); folders asked for by name must.
        var useDefault = includeDefaultRoot && Directory.Exists(PluginCatalog.DefaultPluginRoot);
        var roots = (useDefault ? new[] { PluginCatalog.DefaultPluginRoot } : []).Concat(extraPluginRoots);
        var catalog = PluginCatalog.Discover(roots, PluginCatalog.DefaultPluginRoot);
        var builder = new ContainerBuilder();
        builder.RegisterModule<BuiltInStepsModule>();
        foreach (var module in catalog.Modules) builder.RegisterModule(module);
        return new PlatformHost(catalog, builder.Build());
    }

    /// <summary>The factory of one run (or one plugin command): its components get <paramref name="services"/>.</summary>
    /// <param name="pipelineModel">The pipeline's Model section, which a 'load' step of the pipeline's model checks against.</param>
    public ComponentFactory CreateFactory(RunServices services, ComponentReference? pipelineModel = null) =>
        new(Registry, _container, services, pipelineModel);

    public void Dispose() => _container.Dispose();
}
