using Platform.Abstractions.Components;
using Platform.Host.Composition;
using Platform.Host.Configuration;
using Spectre.Console;

namespace Platform.Host.Cli;

/// <summary>What `platform plugins` and `platform describe` print: the plugins, their components and the components' own option docs.</summary>
internal static class ComponentListing
{
    public static void WritePlugins(PlatformHost host, IAnsiConsole console)
    {
        var plugins = new Table().Title("Plugins").AddColumns("plugin", "version", "built against", "folder", "status");
        foreach (var p in host.Catalog.Plugins)
            plugins.AddRow(Markup.Escape(p.Name), Markup.Escape(p.Version ?? "-"), Markup.Escape(p.AbstractionsVersion?.ToString(3) ?? "-"), Markup.Escape(p.Folder), p.Loaded ? "loaded" : "[red]refused[/]: " + Markup.Escape(p.Error!));
        console.Write(plugins);
        console.WriteLine($"Host contracts: Platform.Abstractions {PluginCatalog.HostAbstractionsVersion.ToString(3)}");

        var components = new Table().Title("Components").AddColumns("kind", "name", "plugin", "description", "options (type = default)");
        foreach (var d in host.Registry.All.OrderBy(d => d.Kind).ThenBy(d => d.Name, StringComparer.Ordinal))
        {
            var options = string.Join("\n", OptionsDocumentation.Rows(d.OptionsType).Select(o => $"{o.Name}: {o.Type} = {o.Default}"));
            components.AddRow(ComponentRegistry.KindLabel(d.Kind), Markup.Escape(d.Name), Markup.Escape(host.Registry.OwnerOf(d)), Markup.Escape(d.Description), Markup.Escape(options.Length == 0 ? "(none)" : options));
        }
        console.Write(components);
    }

    /// <summary>Every component of that name (one per kind), or the names that exist.</summary>
    public static void WriteDescription(PlatformHost host, IAnsiConsole console, string name)
    {
        var matches = host.Registry.All.Where(d => d.Name == name).ToList();
        if (matches.Count == 0)
            host.Registry.Find(name, "describe", Enum.GetValues<ComponentKind>()); // throws, listing what exists
        foreach (var d in matches)
        {
            console.WriteLine($"{d.Name} ({ComponentRegistry.KindLabel(d.Kind)}, from {host.Registry.OwnerOf(d)}): {d.Description}");
            var table = new Table().AddColumns("option", "type", "default", "allowed", "description");
            foreach (var o in OptionsDocumentation.Rows(d.OptionsType))
                table.AddRow(Markup.Escape(o.Name), Markup.Escape(o.Type), Markup.Escape(o.Default), Markup.Escape(o.Allowed), Markup.Escape(o.Description));
            console.Write(table);
            console.WriteLine("Example:");
            console.WriteLine(OptionsDocumentation.Example(d));
        }
    }
}
