using System.CommandLine;
using Platform.Host.Composition;

namespace Platform.Host.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, System.Console.Out, System.Console.Error);

    /// <summary>Entry point for tests too: same parsing, output to the given writers.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter errors)
    {
        var (pluginRoots, rest) = PreScanPluginRoots(args);
        // A plugin's code runs as soon as its module is constructed: asking for help or the version loads none (issue 15).
        var loadsPlugins = !rest.All(a => a is "--help" or "-h" or "-?" or "--version");
        PlatformHost host;
        try
        {
            host = loadsPlugins ? PlatformHost.Build(pluginRoots) : PlatformHost.Build([], includeDefaultRoot: false);
        }
        catch (PlatformException e)
        {
            errors.WriteLine("error: " + e.Message);
            return 2;
        }
        using (host)
        {
            foreach (var refused in host.Catalog.Plugins.Where(p => !p.Loaded))
                errors.WriteLine($"warning: plugin '{refused.Name}' ({refused.Folder}) not loaded: {refused.Error}");
            foreach (var shadowing in host.Registry.Shadowing)
                errors.WriteLine($"warning: plugin '{host.Registry.OwnerOf(shadowing)}' registers {ComponentRegistry.KindLabel(shadowing.Kind)} '{shadowing.Name}', the name of a built-in component; it is ignored.");
            var root = Commands.Build(host, output, errors);
            var configuration = new InvocationConfiguration { Output = output, Error = errors, EnableDefaultExceptionHandler = false };
            try
            {
                return root.Parse(args).Invoke(configuration);
            }
            catch (Exception e)
            {
                // Not the user's input: say what broke; the stack trace is in the run's run.log where there is one.
                errors.WriteLine($"error: {e.GetType().Name}: {e.Message}");
                if (Environment.GetEnvironmentVariable("PLATFORM_DEBUG") is "1" or "true") errors.WriteLine(e);
                return 1;
            }
        }
    }

    /// <summary>
    /// Plugins contribute commands, so the --plugins folders must be known before the parser is built; the other
    /// arguments say whether any plugin is needed at all.
    /// </summary>
    private static (List<string> Roots, List<string> Others) PreScanPluginRoots(string[] args)
    {
        var roots = new List<string>();
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--plugins") { if (i + 1 < args.Length) roots.Add(args[++i]); }
            else if (args[i].StartsWith("--plugins=", StringComparison.Ordinal)) roots.Add(args[i]["--plugins=".Length..]);
            else rest.Add(args[i]);
        }
        return (roots, rest);
    }
}
