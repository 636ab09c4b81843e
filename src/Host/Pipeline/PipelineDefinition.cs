using Microsoft.Extensions.Configuration;
using Platform.Host.Composition;

namespace Platform.Host.Pipeline;

/// <summary>
/// The "Pipeline" section of a pipeline file, read strictly: unknown keys are reported by their full
/// path, so a typo never silently falls back to a default.
/// </summary>
public sealed record PipelineDefinition(
    string Name,
    int Seed,
    string Device,
    string Output,
    int Threads,
    PreviousRunPolicy PreviousRun,
    ComponentReference Dataset,
    ComponentReference? Model,
    IReadOnlyList<ComponentReference> Steps)
{
    private static readonly string[] PipelineKeys = ["Name", "Seed", "Device", "Output", "Threads", "PreviousRun", "Dataset", "Model", "Steps"];
    private static readonly string[] ComponentKeys = ["Use", "Options"];

    public static PipelineDefinition Read(IConfiguration configuration, string sourceName)
    {
        var root = configuration.GetSection("Pipeline");
        if (!root.Exists()) throw new PlatformException($"{sourceName}: no 'Pipeline' section at the top level.");
        CheckKeys(root, PipelineKeys);

        var name = root["Name"] ?? Path.GetFileNameWithoutExtension(sourceName);
        // The name becomes the default output folder runs/<Name>: '..', '../../x' or an absolute path put a run's files
        // outside runs/ (issue 15 §2), so it is a plain name.
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))
            throw new PlatformException($"Pipeline:Name: '{name}' is not a plain name (letters, digits, '_', '-', '.', not starting with '.' or '-', at most 128 characters): it names the folder runs/<Name>.");
        var seedText = root["Seed"] ?? "0";
        if (!int.TryParse(seedText, out var seed))
            throw new PlatformException(System.Numerics.BigInteger.TryParse(seedText, out _)
                ? $"Pipeline:Seed: {seedText} is outside the seed range {int.MinValue} to {int.MaxValue} (a 32-bit integer)."
                : $"Pipeline:Seed: '{seedText}' is not a valid integer.");
        var device = root["Device"] ?? "cpu";
        if (device is not ("cpu" or "cuda" or "auto") && !device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new PlatformException($"Pipeline:Device: '{device}' is not a device; use cpu, cuda, cuda:N or auto (cuda where available, else cpu).");
        var output = root["Output"] ?? Path.Combine("runs", name);
        var threadsText = root["Threads"] ?? "0";
        if (!int.TryParse(threadsText, out var threads) || threads < 0)
            throw new PlatformException($"Pipeline:Threads: '{threadsText}' is not a thread count (0: libtorch's default).");
        // Threads=100000 was accepted and stalled the machine (issue 15 §3).
        if (threads > Environment.ProcessorCount)
            throw new PlatformException($"Pipeline:Threads: {threads} is more than this machine's {Environment.ProcessorCount} cores (0: libtorch's default).");

        var previousText = root["PreviousRun"] ?? nameof(PreviousRunPolicy.Archive);
        if (!Enum.TryParse<PreviousRunPolicy>(previousText, ignoreCase: true, out var previousRun) || !Enum.IsDefined(previousRun))
            throw new PlatformException($"Pipeline:PreviousRun: '{previousText}' is not a policy; use Archive (move a previous run's files aside) or Refuse.");

        var dataset = Component(root.GetSection("Dataset"), required: true)!;
        var model = Component(root.GetSection("Model"), required: false);
        var stepsSection = root.GetSection("Steps");
        var steps = stepsSection.GetChildren()
            .OrderBy(s => int.TryParse(s.Key, out var i) ? i : int.MaxValue)
            .Select(s => Component(s, required: true)!)
            .ToList();
        if (steps.Count == 0) throw new PlatformException("Pipeline:Steps: the pipeline has no steps.");
        return new PipelineDefinition(name, seed, device, output, threads, previousRun, dataset, model, steps);
    }

    private static ComponentReference? Component(IConfigurationSection section, bool required)
    {
        if (!section.Exists())
        {
            if (required) throw new PlatformException($"{section.Path}: missing; it needs at least a 'Use' naming a component.");
            return null;
        }
        CheckKeys(section, ComponentKeys);
        var use = section["Use"];
        if (string.IsNullOrWhiteSpace(use)) throw new PlatformException($"{section.Path}:Use: missing; name the component to use.");
        return new ComponentReference(use, section.GetSection("Options"), section.Path);
    }

    private static void CheckKeys(IConfigurationSection section, string[] allowed)
    {
        foreach (var child in section.GetChildren())
        {
            if (!allowed.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                throw new PlatformException($"{child.Path}: unknown key '{child.Key}'; expected one of {string.Join(", ", allowed)}.");
        }
    }

    /// <summary>The effective configuration (file + environment + overrides) as nested JSON, for the run folder.</summary>
    public static string ResolvedJson(IConfiguration configuration)
    {
        static object? Node(IConfigurationSection s)
        {
            var children = s.GetChildren().ToList();
            if (children.Count == 0) return s.Value;
            if (children.All(c => int.TryParse(c.Key, out _)))
                return children.OrderBy(c => int.Parse(c.Key)).Select(Node).ToList();
            return children.ToDictionary(c => c.Key, Node);
        }
        var tree = configuration.GetChildren().ToDictionary(c => c.Key, Node);
        return System.Text.Json.JsonSerializer.Serialize(tree, new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>What a run does with the files of an earlier run in its output folder (a rerun left them beside its own, mixed).</summary>
public enum PreviousRunPolicy
{
    /// <summary>Move them into previous-runs/&lt;UTC time&gt;/ in the same folder (a train step with Resume reads its checkpoints there).</summary>
    Archive,

    /// <summary>Stop before anything is written, naming the folder.</summary>
    Refuse,
}
