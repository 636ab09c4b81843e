using System.Reflection;
using Autofac;
using McMaster.NETCore.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Models;
using TorchSharp;

namespace Platform.Host.Composition;

/// <summary>A plugin folder the host looked at: what it is, what it registers, or why it was refused.</summary>
public sealed record PluginInfo(
    string Name,
    string Folder,
    string? Version,
    Version? AbstractionsVersion,
    IReadOnlyList<ComponentDescriptor> Components,
    string? Error)
{
    public bool Loaded => Error is null;
}

/// <summary>
/// Finds plugins (one folder each, holding <c>&lt;Folder&gt;.dll</c>), loads each in its own
/// McMaster load context with the contracts, TorchSharp, Autofac and the configuration/logging
/// abstractions shared with the host, and collects their Autofac modules. A plugin that is built
/// against another major version of the contracts, or that throws while loading, is refused by name;
/// the others still load.
/// </summary>
public sealed class PluginCatalog
{
    /// <summary>Types whose assemblies plugins must share with the host so that contracts and tensors cross the boundary.</summary>
    private static readonly Type[] SharedTypes =
    [
        typeof(IModel), typeof(torch), typeof(Autofac.Module), typeof(IConfiguration), typeof(ILogger),
    ];

    public static Version HostAbstractionsVersion { get; } = typeof(IModel).Assembly.GetName().Version!;

    private readonly List<PluginInfo> _plugins = [];
    private readonly List<Autofac.Module> _modules = [];

    public IReadOnlyList<PluginInfo> Plugins => _plugins;

    /// <summary>The default plugin folder: artifacts/plugins beside the host's own folder (artifacts/host).</summary>
    public static string DefaultPluginRoot =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "plugins"));

    /// <summary>
    /// Looks at every sub-folder of each root (a root that is itself a plugin folder counts too). Plugins under
    /// <paramref name="ownRoot"/> (the host's artifacts/plugins) load; any other plugin folder loads only when the
    /// user's <see cref="PluginTrust"/> holds its current files (nothing of it is loaded otherwise); the trust file is
    /// read only when such a folder is met.
    /// </summary>
    public static PluginCatalog Discover(IEnumerable<string> roots, string? ownRoot = null)
    {
        PluginTrust? store = null;
        var own = ownRoot is null ? null : Path.GetFullPath(ownRoot);
        var catalog = new PluginCatalog();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in roots)
        {
            var full = Path.GetFullPath(root);
            if (!Directory.Exists(full))
            {
                catalog._plugins.Add(new PluginInfo(Path.GetFileName(full), full, null, null, [], $"plugin folder '{full}' does not exist"));
                continue;
            }
            foreach (var folder in PluginFolders(full))
            {
                if (!seen.Add(folder)) continue;
                var refusal = own is not null && Path.GetDirectoryName(folder) == own ? null
                    : (store ??= PluginTrust.Load()).Refusal(folder);
                if (refusal is null) catalog.Load(folder);
                else catalog._plugins.Add(new PluginInfo(Path.GetFileName(folder), folder, null, null, [], refusal));
            }
        }
        return catalog;
    }

    /// <summary>The plugin folders of a root: the root itself when it holds ROOT.dll, else its sub-folders.</summary>
    public static IEnumerable<string> PluginFolders(string root) =>
        PluginAssemblyIn(root) is not null ? [root] : Directory.GetDirectories(root).Order(StringComparer.Ordinal);

    public static string? PluginAssemblyIn(string folder)
    {
        var main = Path.Combine(folder, Path.GetFileName(folder) + ".dll");
        return File.Exists(main) ? main : null;
    }

    private void Load(string folder)
    {
        var name = Path.GetFileName(folder);
        var path = PluginAssemblyIn(folder);
        if (path is null)
        {
            _plugins.Add(new PluginInfo(name, folder, null, null, [], $"no {name}.dll in the folder"));
            return;
        }

        Assembly assembly;
        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(path, SharedTypes, config => config.PreferSharedTypes = true);
            assembly = loader.LoadDefaultAssembly();
        }
        catch (Exception e)
        {
            _plugins.Add(new PluginInfo(name, folder, null, null, [], $"could not load {Path.GetFileName(path)}: {e.GetType().Name}: {e.Message}"));
            return;
        }

        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
                      ?? assembly.GetName().Version?.ToString();
        var contracts = assembly.GetReferencedAssemblies().FirstOrDefault(r => r.Name == typeof(IModel).Assembly.GetName().Name)?.Version;
        if (contracts is null)
        {
            _plugins.Add(new PluginInfo(name, folder, version, null, [], "does not reference Platform.Abstractions, so it registers nothing"));
            return;
        }
        if (contracts.Major != HostAbstractionsVersion.Major)
        {
            _plugins.Add(new PluginInfo(name, folder, version, contracts, [],
                $"built against Platform.Abstractions {contracts.ToString(3)}, but this host has {HostAbstractionsVersion.ToString(3)} (major versions differ); rebuild the plugin against {HostAbstractionsVersion.Major}.x"));
            return;
        }

        try
        {
            var modules = assembly.GetTypes()
                .Where(t => typeof(Autofac.Module).IsAssignableFrom(t) && t is { IsAbstract: false, IsPublic: true })
                .Select(t => (Autofac.Module)Activator.CreateInstance(t)!)
                .ToList();
            if (modules.Count == 0)
            {
                _plugins.Add(new PluginInfo(name, folder, version, contracts, [], "has no public Autofac Module that registers its components"));
                return;
            }
            // Run the modules once in a throwaway container: a module that throws is refused here, by name,
            // instead of breaking the container every other plugin lives in.
            var trial = new ContainerBuilder();
            foreach (var module in modules) trial.RegisterModule(module);
            using var container = trial.Build();
            var components = container.Resolve<IEnumerable<ComponentDescriptor>>().ToList();
            var info = new PluginInfo(name, folder, version, contracts, components, null);
            _plugins.Add(info);
            _modules.AddRange(modules);
        }
        catch (Exception e)
        {
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            while (cause is Autofac.Core.DependencyResolutionException { InnerException: { } deeper }) cause = deeper;
            _plugins.Add(new PluginInfo(name, folder, version, contracts, [], $"failed while registering its components: {cause.GetType().Name}: {cause.Message}"));
        }
    }

    /// <summary>The Autofac modules of every loaded plugin, each already run once without failing.</summary>
    public IReadOnlyList<Autofac.Module> Modules => _modules;
}
