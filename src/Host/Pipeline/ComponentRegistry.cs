using Autofac;
using Autofac.Core;
using Platform.Abstractions.Components;
using Platform.Host.Configuration;
using Platform.Host.Plugins;

namespace Platform.Host.Pipeline;

/// <summary>
/// Every component the container knows (the host's built-in steps and every plugin's), by kind and
/// name, and the one place that creates them: options bound from configuration, then the instance
/// resolved from Autofac with the options and run services as typed parameters.
/// </summary>
public sealed class ComponentRegistry(IContainer container, IReadOnlyList<PluginInfo> plugins)
{
    public const string BuiltIn = "built-in";

    public IReadOnlyList<ComponentDescriptor> All { get; } =
        container.Resolve<IEnumerable<ComponentDescriptor>>().ToList();

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

    public object BindOptions(ComponentDescriptor descriptor, Microsoft.Extensions.Configuration.IConfigurationSection? options) =>
        OptionsBinder.Bind(descriptor.OptionsType, options, $"{KindLabel(descriptor.Kind)} '{descriptor.Name}'");

    public T Create<T>(ComponentDescriptor descriptor, object options, params Parameter[] extra) where T : class
    {
        var parameters = extra.Append(new TypedParameter(descriptor.OptionsType, options)).ToArray();
        try
        {
            return (T)container.ResolveKeyed(descriptor.Name, descriptor.ServiceType, parameters);
        }
        catch (DependencyResolutionException e)
        {
            var cause = e.InnerException;
            while (cause is DependencyResolutionException { InnerException: { } inner }) cause = inner;
            if (cause is PlatformException platform) throw platform;
            if (cause is ArgumentException or InvalidOperationException or IOException or InvalidDataException or UnauthorizedAccessException or KeyNotFoundException)
                throw new PlatformException($"{KindLabel(descriptor.Kind)} '{descriptor.Name}': {cause.Message}", cause);
            throw new PlatformException($"{KindLabel(descriptor.Kind)} '{descriptor.Name}' could not be created: {(cause ?? e).Message}", cause ?? e);
        }
    }

    public static string KindLabel(ComponentKind kind) => kind switch
    {
        ComponentKind.PointTransform => "point transform",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
