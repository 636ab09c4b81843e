using Autofac;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Interop.PyTorch;

/// <summary>Registers the PyTorch state-dict steps under their pipeline names, and the import as a command.</summary>
public sealed class InteropPyTorchModule : Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterStep<ImportWeightsStep, ImportWeightsOptions>(
            "import-weights", "Load a PyTorch state dict (.pt/.pth from torch.save, or .safetensors) into the model: names mapped (convention, rename rules), shapes checked, unmapped and missing keys reported.");
        builder.RegisterStep<ExportPyTorchStep, ExportPyTorchOptions>(
            "export-pytorch", "Write the model's state dict for PyTorch (.pt/.pth for torch.load, or .safetensors), masks applied, atomically below the output root.");
        builder.RegisterCommand<ImportWeightsCommand, ImportWeightsCommandOptions>(
            "import-weights", "Load a PyTorch state dict into the model a platform checkpoint describes and write it as a new checkpoint.");
    }
}
