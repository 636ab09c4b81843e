using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

public sealed class ImportWeightsCommandOptions
{
    [Description("A platform checkpoint (from the 'save' step) of the model to load into: it says which model, with which options and classes, to build.")]
    [Required]
    public string Checkpoint { get; set; } = "";

    [Description("The PyTorch state dict: torch.save's .pt/.pth, or .safetensors.")]
    [Required]
    public string Weights { get; set; } = "";

    [Description("The platform checkpoint to write: the model with the imported weights (and the masks of --checkpoint).")]
    [Required]
    public string Out { get; set; } = "";

    [Description("File format of --weights: Auto, PyTorch or Safetensors.")]
    public StateDictFormat Format { get; set; } = StateDictFormat.Auto;

    [Description("For a .pt checkpoint dict: the entry that holds the state dict (OpenPCDet: model_state; mmdetection3d: state_dict).")]
    public string? StateDictKey { get; set; }

    [Description("A weight-name convention the model knows, applied before the rename rule.")]
    public string? Convention { get; set; }

    [Description("One rename rule's regular expression (more rules: use the import-weights step in a pipeline).")]
    public string? RenamePattern { get; set; }

    [Description("What each match of --rename-pattern becomes ($1... for its groups).")]
    public string RenameReplacement { get; set; } = "";

    [Description("Let model tensors that the file does not hold keep the checkpoint's values.")]
    public bool AllowMissing { get; set; }

    [Description("Largest file (and total of the tensors it declares) that is read, in bytes.")]
    [Range(1L, long.MaxValue)]
    public long MaxBytes { get; set; } = 4L << 30;
}

/// <summary>
/// <c>platform import-weights --checkpoint model.ckpt --weights model.pth --out imported.ckpt</c>: the import-weights step
/// outside a pipeline, on the model a checkpoint describes, written as a new checkpoint.
/// </summary>
public sealed class ImportWeightsCommand(ImportWeightsCommandOptions options, IComponentFactory components) : IPluginCommand
{
    public int Run()
    {
        try
        {
            if (File.Exists(options.Out) && !Checkpoint.IsCheckpoint(options.Out))
                throw new InvalidOperationException($"--out: {Path.GetFullPath(options.Out)} exists and is not a checkpoint of this platform; refusing to replace it.");
            using var model = components.LoadModel(options.Checkpoint);
            List<RenameRule> rules = string.IsNullOrEmpty(options.RenamePattern) ? [] : [new() { Pattern = options.RenamePattern, Replacement = options.RenameReplacement }];
            var names = WeightNames.For(model, options.Convention, "--convention", rules, "--rename-pattern", toModel: true);
            ImportReport report;
            using (NewDisposeScope())
            {
                var tensors = StateDictFile.Read(options.Weights, options.Format, options.StateDictKey, options.MaxBytes);
                report = WeightImport.Apply(model, tensors, names, options.AllowMissing, options.Weights);
            }
            Checkpoint.Save(model, options.Out);
            Console.WriteLine($"Loaded {report.Loaded.Count} tensors from {options.Weights} into '{model.Spec.Use}'; wrote {Path.GetFullPath(options.Out)}.");
            foreach (var (fileKey, mappedTo, shape) in report.Unmapped)
                Console.WriteLine($"unmapped (in the file, not used): {fileKey}{(mappedTo == fileKey ? "" : $" (as {mappedTo})")} {WeightImport.Shape(shape)}");
            foreach (var (modelKey, shape) in report.Missing)
                Console.WriteLine($"missing (kept the checkpoint's values): {modelKey} {WeightImport.Shape(shape)}");
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("import-weights: " + e.Message);
            return 2;
        }
    }
}
