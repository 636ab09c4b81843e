using Autofac;
using Platform.Host.Pipeline;
using Platform.Host.Steps;

namespace Platform.Host.Plugins;

/// <summary>The composed host: discovered plugins plus the built-in steps, in one Autofac container.</summary>
public sealed class PlatformHost : IDisposable
{
    private readonly IContainer _container;

    private PlatformHost(PluginCatalog catalog, IContainer container)
    {
        Catalog = catalog;
        _container = container;
        Registry = new ComponentRegistry(container, catalog.Plugins);
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
        catalog.RegisterInto(builder);
        return new PlatformHost(catalog, builder.Build());
    }

    public void Dispose() => _container.Dispose();
}
