using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

public sealed class ImportWeightsOptions
{
    [Description("State dict file to read (relative to the working directory): torch.save's .pt/.pth, or .safetensors.")]
    [Required]
    public string Path { get; set; } = "";

    [Description("File format: Auto (by extension, else by the file's first bytes), PyTorch or Safetensors.")]
    public StateDictFormat Format { get; set; } = StateDictFormat.Auto;

    [Description("For a .pt checkpoint dict: the entry that holds the state dict (OpenPCDet: model_state; mmdetection3d: state_dict). Empty: the file is the state dict.")]
    public string? StateDictKey { get; set; }

    [Description("A weight-name convention the model knows (IKnownWeightNames), applied before the rename rules. Empty: none.")]
    public string? Convention { get; set; }

    [Description("Rename rules applied in order to each name in the file: { Pattern: regex, Replacement: text }.")]
    public List<RenameRule> Rename { get; set; } = [];

    [Description("Let model tensors that the file does not hold keep their values (a partial load); otherwise missing keys are an error.")]
    public bool AllowMissing { get; set; }

    [Description("Largest file (and largest total of tensors it may declare) that is read, in bytes.")]
    [Range(1L, long.MaxValue)]
    public long MaxBytes { get; set; } = 4L << 30;
}

/// <summary>Loads a PyTorch state dict into the pipeline's model: names mapped, shapes checked, leftovers reported.</summary>
public sealed class ImportWeightsStep(ImportWeightsOptions options) : IPipelineStep
{
    /// <summary>Rename patterns that do not parse stop the run before its first step.</summary>
    public void Prepare(PipelineContext context) => WeightNames.Compile(options.Rename, OptionKey(context, nameof(options.Rename)));

    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("import-weights");
        var names = WeightNames.For(model, options.Convention, OptionKey(context, nameof(options.Convention)),
            options.Rename, OptionKey(context, nameof(options.Rename)), toModel: true);
        using var scope = NewDisposeScope();
        var tensors = StateDictFile.Read(options.Path, options.Format, options.StateDictKey, options.MaxBytes);
        var report = WeightImport.Apply(model, tensors, names, options.AllowMissing, options.Path);

        var outcome = new StepOutcome();
        outcome.Metrics["loaded"] = report.Loaded.Count;
        outcome.Metrics["unmapped"] = report.Unmapped.Count;
        outcome.Metrics["missing"] = report.Missing.Count;
        outcome.Metrics["dtypeConversions"] = report.DTypeConversions;
        outcome.Files.Add(System.IO.Path.GetFullPath(options.Path));
        outcome.Provenance["weights"] = options.Path;
        outcome.Provenance["weightsSha256"] = Checkpoint.Sha256(options.Path);
        outcome.Notes.Add($"Loaded {report.Loaded.Count} tensors from {options.Path} ({StateDictFile.Detect(options.Path, options.Format)}).");
        if (report.Unmapped.Count > 0)
            outcome.Tables.Add(new ReportTable("Unmapped keys: in the file, not used", ["file key", "mapped to", "shape"],
                report.Unmapped.Select(u => (IReadOnlyList<string>)[u.FileKey, u.MappedTo, WeightImport.Shape(u.Shape)]).ToList()));
        if (report.Missing.Count > 0)
            outcome.Tables.Add(new ReportTable("Missing keys: in the model, not in the file (kept their values)", ["model key", "shape"],
                report.Missing.Select(m => (IReadOnlyList<string>)[m.ModelKey, WeightImport.Shape(m.Shape)]).ToList()));
        var renamed = report.Loaded.Where(l => l.FileKey != l.ModelKey).ToList();
        if (renamed.Count > 0)
            outcome.Tables.Add(new ReportTable("Renamed keys", ["file key", "model key"], renamed.Select(r => (IReadOnlyList<string>)[r.FileKey, r.ModelKey]).ToList()));
        return outcome;
    }

    internal static string OptionKey(PipelineContext context, string option) => $"Pipeline:Steps:{context.CurrentStep.Index}:Options:{option}";
}
