using System.CommandLine;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Pipeline;
using Platform.Host.Composition;
using Platform.Host.Configuration;
using Platform.Host.Console;
using Platform.Host.Pipeline;
using Spectre.Console;

namespace Platform.Host.Cli;

/// <summary>
/// Wires the CLI's commands: run, check, plugins, describe, and every command a plugin contributes. What they print
/// is elsewhere (<see cref="ComponentListing"/>); what an option means is on the option's own class.
/// </summary>
public static class Commands
{
    public static RootCommand Build(PlatformHost host, TextWriter output, TextWriter errors)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = output == System.Console.Out && !System.Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = output == System.Console.Out && !System.Console.IsOutputRedirected ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (output != System.Console.Out || System.Console.IsOutputRedirected) console.Profile.Width = 200;
        var pluginsOption = new Option<string[]>("--plugins")
        {
            Description = "Another folder of plugins to load (repeatable); artifacts/plugins is always scanned.",
            AllowMultipleArgumentsPerToken = false,
            Recursive = true,
        };
        var root = new RootCommand("platform: compress 3D point-cloud models with plugin-provided models, datasets and methods. This help loads no plugin; the commands plugins add are listed by 'platform plugins', each with its own --help.");
        root.Options.Add(pluginsOption);
        root.Subcommands.Add(RunCommand(host, output, errors));
        root.Subcommands.Add(CheckCommand(host, output, errors));
        root.Subcommands.Add(PluginsCommand(host, console, output, errors));
        root.Subcommands.Add(DescribeCommand(host, console, errors));
        foreach (var descriptor in host.Registry.OfKind(ComponentKind.Command).OrderBy(d => d.Name, StringComparer.Ordinal))
            AddPluginCommand(root, host, descriptor, errors);
        return root;
    }

    private static Command RunCommand(PlatformHost host, TextWriter output, TextWriter errors) =>
        PipelineCommand("run", "Run a pipeline. Override any value with --Key:Path=value (e.g. --Pipeline:Seed=3) or an environment variable PLATFORM_Key__Path.",
            errors, (path, configuration, root) =>
            {
                var report = new PipelineRunner(host) { OutputRoot = root }.Run(configuration, path);
                output.WriteLine($"Run '{report.Pipeline}' finished in {report.Seconds:F1} s: {Path.Combine(report.OutputDirectory, "report.md")}");
            });

    private static Command CheckCommand(PlatformHost host, TextWriter output, TextWriter errors) =>
        PipelineCommand("check", "Check a pipeline as 'run' does before its first step (components, options, values, overrides) without running it.",
            errors, (path, configuration, root) => output.WriteLine("ok: " + new PipelineRunner(host) { OutputRoot = root }.Check(configuration, path)));

    /// <summary>A command on one pipeline file whose unmatched --Key:Path=value tokens are configuration overrides.</summary>
    private static Command PipelineCommand(string name, string description, TextWriter errors, Action<string, IConfiguration, string> body)
    {
        var file = new Argument<string>("pipeline") { Description = "Pipeline file (.json, .yaml or .yml)." };
        // The pipeline file says where to write, but only below this folder: a file passed around cannot reach anything else.
        var root = new Option<string>("--output-root")
        {
            Description = "The folder the run may write below (Pipeline:Output and save paths); default: the current folder.",
            DefaultValueFactory = _ => Directory.GetCurrentDirectory(),
        };
        var command = new Command(name, description) { file, root };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse => Guard(errors, () =>
        {
            var path = parse.GetValue(file)!;
            body(path, PipelineConfiguration.Load(path, parse.UnmatchedTokens), Path.GetFullPath(parse.GetValue(root)!));
            return 0;
        }));
        return command;
    }

    private static Command PluginsCommand(PlatformHost host, IAnsiConsole console, TextWriter output, TextWriter errors)
    {
        var command = new Command("plugins", "List discovered plugins and the components each registers.");
        command.Subcommands.Add(TrustCommand("trust", "Trust the plugin folder(s) under FOLDER as they are now: their files' SHA-256 goes to your trust file, and --plugins loads them until a file changes. A plugin's code runs as soon as it loads: check where it comes from first.",
            (store, folder) => output.WriteLine($"trusted {folder} (SHA-256 {store.Trust(folder)[..16]}...) in {store.FilePath}"), errors));
        command.Subcommands.Add(TrustCommand("untrust", "Remove the plugin folder(s) under FOLDER from your trust file.",
            (store, folder) => output.WriteLine(store.Untrust(folder) ? $"untrusted {folder}" : $"{folder} was not trusted"), errors));
        command.SetAction(_ =>
        {
            ComponentListing.WritePlugins(host, console);
            return 0;
        });
        return command;
    }

    private static Command TrustCommand(string name, string description, Action<PluginTrust, string> apply, TextWriter errors)
    {
        var folder = new Argument<string>("folder") { Description = "A plugin folder, or a folder of plugin folders (as given to --plugins)." };
        var command = new Command(name, description) { folder };
        command.SetAction(parse => Guard(errors, () =>
        {
            var root = Path.GetFullPath(parse.GetValue(folder)!);
            if (!Directory.Exists(root)) throw new PlatformException($"{root}: no such folder.");
            var folders = PluginCatalog.PluginFolders(root).Where(f => PluginCatalog.PluginAssemblyIn(f) is not null).ToList();
            if (folders.Count == 0) throw new PlatformException($"{root}: no plugin folder (a folder NAME holding NAME.dll) here or one level down.");
            var store = PluginTrust.Load();
            foreach (var f in folders) apply(store, f);
            return 0;
        }));
        return command;
    }

    private static Command DescribeCommand(PlatformHost host, IAnsiConsole console, TextWriter errors)
    {
        var name = new Argument<string>("component") { Description = "A component name, as listed by 'platform plugins'." };
        var command = new Command("describe", "Show one component's options and an example pipeline entry.") { name };
        command.SetAction(parse => Guard(errors, () =>
        {
            ComponentListing.WriteDescription(host, console, parse.GetValue(name)!);
            return 0;
        }));
        return command;
    }

    private static void AddPluginCommand(RootCommand root, PlatformHost host, ComponentDescriptor descriptor, TextWriter errors)
    {
        var words = descriptor.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Command parent = root;
        foreach (var word in words[..^1])
        {
            var existing = parent.Subcommands.FirstOrDefault(c => c.Name == word);
            if (existing is null)
            {
                existing = new Command(word, $"{word} commands from plugins");
                parent.Subcommands.Add(existing);
            }
            parent = existing;
        }
        var command = new Command(words[^1], descriptor.Description + $" (from {host.Registry.OwnerOf(descriptor)})");
        var options = new List<(Option<string> Option, PropertyInfo Property)>();
        foreach (var property in OptionsBinder.SettableProperties(descriptor.OptionsType).Values)
        {
            var option = new Option<string>("--" + OptionsDocumentation.CommandLineName(property.Name))
            {
                Description = property.GetCustomAttribute<DescriptionAttribute>()?.Description,
                Arity = property.PropertyType == typeof(bool) ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
                Required = property.GetCustomAttribute<RequiredAttribute>() is not null,
            };
            command.Options.Add(option);
            options.Add((option, property));
        }
        command.SetAction(parse => Guard(errors, () =>
        {
            var values = new Dictionary<string, string?>();
            foreach (var (option, property) in options)
            {
                var result = parse.GetResult(option);
                if (result is null) continue;
                values["Command:" + property.Name] = result.Tokens.Count == 0 ? "true" : result.Tokens[0].Value;
            }
            var section = new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("Command");
            var bound = host.Registry.Bind(descriptor, section);
            using var loggers = LoggerFactory.Create(b => b.AddProvider(new RunLoggerProvider(null)));
            var services = new RunServices(0, TorchSharp.torch.CPU, Directory.GetCurrentDirectory(), loggers, new ConsoleProgressReporter());
            return host.CreateFactory(services).Create<IPluginCommand>(bound).Run();
        }));
        parent.Subcommands.Add(command);
    }

    /// <summary>Runs a command body; user errors print one message (exit 2), failed steps exit 1.</summary>
    private static int Guard(TextWriter errors, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (PlatformException e)
        {
            errors.WriteLine("error: " + e.Message);
            return 2;
        }
        // A plugin step refusing a path outside the output root (RunServices.ContainedPath) while the run is prepared: the
        // same user error as the host's own refusal, with the same exit code.
        catch (UnauthorizedAccessException e)
        {
            errors.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (StepFailedException e)
        {
            errors.WriteLine("error: " + e.Message);
            return 1;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            errors.WriteLine("error: " + e.Message);
            return 1;
        }
    }
}
