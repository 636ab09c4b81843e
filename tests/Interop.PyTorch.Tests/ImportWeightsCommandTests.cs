using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Interop.PyTorch;
using Platform.Plugins.Models.PointNet;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>platform import-weights: a checkpoint's model, a PyTorch state dict's weights, a new checkpoint.</summary>
public class ImportWeightsCommandTests
{
    /// <summary>The host's factory as far as the command uses it: PointNet rebuilt from a checkpoint.</summary>
    private sealed class PointNetFactory : IComponentFactory
    {
        public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) =>
            new PointNetModel(System.Text.Json.JsonSerializer.Deserialize<PointNetOptions>(optionsJson!)!, dataset);

        public IModel LoadModel(string checkpointPath)
        {
            var header = Checkpoint.ReadHeader(checkpointPath);
            var model = CreateModel(header.Spec.Use, header.Spec.OptionsJson, header.Spec.Dataset);
            Checkpoint.LoadInto(model, checkpointPath);
            return model;
        }
    }

    [Test]
    public void The_command_writes_a_checkpoint_whose_model_computes_what_the_state_dicts_model_does()
    {
        var folder = TestPaths.NewTempDirectory("command");
        string checkpoint = Path.Combine(folder, "seed2.ckpt"), weights = Path.Combine(folder, "seed1.pth"), output = Path.Combine(folder, "imported.ckpt");
        using var source = Models.PointNet(seed: 1);
        using (var other = Models.PointNet(seed: 2)) Checkpoint.Save(other, checkpoint);
        using (NewDisposeScope())
            StateDictFile.Write(weights, ExportPyTorchStep.StateDictOf(source, WeightNames.For(source, null, "C", [new RenameRule { Pattern = "^", Replacement = "module." }], "R", toModel: false)));

        var exit = new ImportWeightsCommand(new ImportWeightsCommandOptions { Checkpoint = checkpoint, Weights = weights, Out = output, RenamePattern = @"^module\." }, new PointNetFactory()).Run();

        Assert.That(exit, Is.EqualTo(0));
        using var imported = new PointNetFactory().LoadModel(output);
        var samples = Models.Shapes(3, 32);
        Models.AssertSameOutputs(Models.Outputs(source, samples), Models.Outputs(imported, samples));
    }

    [Test]
    public void The_command_refuses_to_replace_a_file_that_is_not_a_checkpoint()
    {
        var folder = TestPaths.NewTempDirectory("command");
        var precious = Path.Combine(folder, "notes.txt");
        File.WriteAllText(precious, "keep me");
        var exit = new ImportWeightsCommand(new ImportWeightsCommandOptions { Checkpoint = "none.ckpt", Weights = "none.pth", Out = precious }, new PointNetFactory()).Run();
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(File.ReadAllText(precious), Is.EqualTo("keep me"));
    }
}
