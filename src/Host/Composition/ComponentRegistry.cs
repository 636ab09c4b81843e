using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Host.Configuration;

namespace Platform.Host.Composition;

/// <summary>A component found by name with its options bound and checked: ready to create, nothing created yet.</summary>
public sealed record BoundComponent(ComponentDescriptor Descriptor, object Options);

/// <summary>
/// Every component the container knows (the host's built-in steps and every plugin's), by kind and name, and the
/// binding of their options from configuration. It creates nothing (that is <see cref="ComponentFactory"/>), so a
/// pipeline can be checked through it before a run exists.
/// </summary>
public sealed class ComponentRegistry
{
    public const string BuiltIn = "built-in";

    private readonly IReadOnlyList<PluginInfo> plugins;

    public ComponentRegistry(IEnumerable<ComponentDescriptor> components, IReadOnlyList<PluginInfo> plugins)
    {
        this.plugins = plugins;
        var all = components.ToList();
        // A plugin must not replace or disable train, save or load: a component under a built-in name is set aside.
        var builtIn = all.Where(d => OwnerOf(d) == BuiltIn).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        Shadowing = all.Where(d => OwnerOf(d) != BuiltIn && builtIn.Contains(d.Name)).ToList();
        All = all.Except(Shadowing).ToList();
    }

    public IReadOnlyList<ComponentDescriptor> All { get; }

    /// <summary>Plugin components registered under a built-in component's name: ignored, and reported when the host starts.</summary>
    public IReadOnlyList<ComponentDescriptor> Shadowing { get; }

    public string OwnerOf(ComponentDescriptor descriptor) =>
        plugins.FirstOrDefault(p => p.Components.Contains(descriptor))?.Name ?? BuiltIn;

    public IEnumerable<ComponentDescriptor> OfKind(ComponentKind kind) => All.Where(d => d.Kind == kind);

    /// <summary>Finds a component among the given kinds; unknown or ambiguous names fail with the names that exist.</summary>
    public ComponentDescriptor Find(string name, string where, params ComponentKind[] kinds)
    {
        var matches = All.Where(d => kinds.Contains(d.Kind) && d.Name == name).ToList();
        if (matches.Count == 1) return matches[0];
        if (matches.Count > 1)
            throw new PlatformException($"{where}: '{name}' is registered more than once ({string.Join(", ", matches.Select(m => $"{m.Kind} by {OwnerOf(m)}"))}); remove one of the plugins.");
        var known = kinds.Select(k =>
        {
            var names = string.Join(", ", OfKind(k).Select(d => d.Name).Order(StringComparer.Ordinal));
            return $"{KindLabel(k)}s: {(names.Length > 0 ? names : "(none)")}";
        });
        var caseHint = All.FirstOrDefault(d => kinds.Contains(d.Kind) && string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase));
        var hint = caseHint is null ? "" : $" Did you mean '{caseHint.Name}'?";
        throw new PlatformException($"{where}: unknown {string.Join(" or ", kinds.Select(KindLabel))} '{name}'.{hint} Known {string.Join("; ", known)}.");
    }

    /// <summary>The component a pipeline section names, among <paramref name="kinds"/>, with its Options section bound.</summary>
    public BoundComponent Bind(ComponentReference reference, params ComponentKind[] kinds) =>
        Bind(Find(reference.Use, reference.UseKey, kinds), reference.Options);

    public BoundComponent Bind(ComponentDescriptor descriptor, IConfigurationSection? options) =>
        new(descriptor, OptionsBinder.Bind(descriptor.OptionsType, options, $"{KindLabel(descriptor.Kind)} '{descriptor.Name}'"));

    /// <summary>The kinds whose contract is <paramref name="contract"/> or derives from it (IPipelineStep: steps and compressors).</summary>
    public static ComponentKind[] KindsOf(Type contract) =>
        Enum.GetValues<ComponentKind>().Where(k => contract.IsAssignableFrom(ComponentDescriptor.ServiceTypeOf(k))).ToArray();

    public static string KindLabel(ComponentKind kind) => kind switch
    {
        ComponentKind.PointTransform => "point transform",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
