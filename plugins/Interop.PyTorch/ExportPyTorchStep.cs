using System.ComponentModel;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

public sealed class ExportPyTorchOptions
{
    [Description("File to write (relative to the working directory, below the output root): .pt/.pth for torch.load, .safetensors for safetensors. Empty: model.pt in the run's output folder.")]
    public string? Path { get; set; }

    [Description("Name the weights as this convention of the model does (IKnownWeightNames), before the rename rules. Empty: the model's own names.")]
    public string? Convention { get; set; }

    [Description("Rename rules applied in order to each of the model's names: { Pattern: regex, Replacement: text }.")]
    public List<RenameRule> Rename { get; set; } = [];
}

/// <summary>Writes the model's state dict in PyTorch's formats, masks applied, atomically and only below the output root.</summary>
public sealed class ExportPyTorchStep(ExportPyTorchOptions options, RunServices services) : IPipelineStep
{
    /// <summary>A path outside the output root, or without a known extension, is refused before the first step runs.</summary>
    public void Prepare(PipelineContext context)
    {
        var path = Target(context);
        if (StateDictFile.ByExtension(path) is null)
            throw new ArgumentException($"{ImportWeightsStep.OptionKey(context, nameof(options.Path))}: {path} has no state-dict extension (.pt, .pth or .safetensors).");
        WeightNames.Compile(options.Rename, ImportWeightsStep.OptionKey(context, nameof(options.Rename)));
    }

    private string Target(PipelineContext context) => services.ContainedPath(
        string.IsNullOrEmpty(options.Path) ? System.IO.Path.Combine(services.OutputDirectory, "model.pt") : options.Path,
        ImportWeightsStep.OptionKey(context, nameof(options.Path)));

    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("export-pytorch");
        var path = Target(context);
        var format = StateDictFile.ByExtension(path)
                     ?? throw new ArgumentException($"{ImportWeightsStep.OptionKey(context, nameof(options.Path))}: {path} has no state-dict extension (.pt, .pth or .safetensors).");
        // A pipeline file passed around must not overwrite an unrelated file (as the save step refuses to).
        if (File.Exists(path) && !StateDictFile.LooksLike(path, format))
            throw new InvalidOperationException($"{ImportWeightsStep.OptionKey(context, nameof(options.Path))}: {path} exists and is not a {format} state dict; refusing to replace it.");
        var names = WeightNames.For(model, options.Convention, ImportWeightsStep.OptionKey(context, nameof(options.Convention)),
            options.Rename, ImportWeightsStep.OptionKey(context, nameof(options.Rename)), toModel: false);
        using var scope = NewDisposeScope();
        var tensors = StateDictOf(model, names);
        StateDictFile.Write(path, tensors, format);

        var outcome = new StepOutcome();
        outcome.Files.Add(path);
        outcome.Provenance["stateDict"] = path;
        outcome.Provenance["stateDictSha256"] = Checkpoint.Sha256(path);
        outcome.Metrics["tensors"] = tensors.Count;
        outcome.Metrics["bytes"] = new FileInfo(path).Length;
        outcome.Metrics["maskedLayers"] = model.Masks.Count;
        return outcome;
    }

    /// <summary>The model's parameters and buffers under their exported names, each masked layer's weight with its mask applied.</summary>
    internal static Dictionary<string, Tensor> StateDictOf(IModel model, WeightNames names)
    {
        var state = model.Module.state_dict();
        var exported = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var from = new Dictionary<string, string>(StringComparer.Ordinal);
        var masks = model.PrunableLayers.Where(l => model.Masks.TryGet(l.Name, out _)).ToDictionary(l => l.Name + ".weight", l => l.Name, StringComparer.Ordinal);
        foreach (var (key, tensor) in state)
        {
            var value = tensor.detach();
            if (masks.TryGetValue(key, out var layer) && model.Masks.TryGet(layer, out var mask))
                value = value * mask.to(value.dtype);
            var name = names.Map(key);
            if (!from.TryAdd(name, key))
                throw new InvalidOperationException($"'{from[name]}' and '{key}' would both be exported as '{name}'; refine the rename rules.");
            exported[name] = value;
        }
        var unmatched = masks.Keys.Where(k => !state.ContainsKey(k)).ToList();
        if (unmatched.Count > 0)
            throw new InvalidOperationException($"masked weights {string.Join(", ", unmatched)} are not in the model's state dict; their masks cannot be applied.");
        return exported;
    }
}
