using Platform.Abstractions.Models;
using Platform.Plugins.Interop.PyTorch;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>A model written in PyTorch's formats and read back into a model built from another seed computes the same outputs.</summary>
public class RoundTripTests
{
    private static WeightNames Plain(IModel model, bool toModel, params RenameRule[] rules) =>
        WeightNames.For(model, null, "Convention", rules, "Rename", toModel);

    /// <summary>Export <paramref name="source"/> to <paramref name="file"/>, import it into <paramref name="target"/>.</summary>
    internal static ImportReport RoundTrip(IModel source, IModel target, string file, RenameRule[]? exportRules = null, RenameRule[]? importRules = null)
    {
        using (NewDisposeScope())
            StateDictFile.Write(file, ExportPyTorchStep.StateDictOf(source, Plain(source, toModel: false, exportRules ?? [])));
        using var _ = NewDisposeScope();
        var tensors = StateDictFile.Read(file);
        return WeightImport.Apply(target, tensors, Plain(target, toModel: true, importRules ?? []), allowMissing: false, file);
    }

    [TestCase(".pt")]
    [TestCase(".safetensors")]
    public void PointNet_round_trips_into_a_model_of_another_seed_with_identical_outputs(string extension)
    {
        using var source = Models.PointNet(seed: 1);
        using var target = Models.PointNet(seed: 2);
        var samples = Models.Shapes(4, 32);
        var expected = Models.Outputs(source, samples);
        Assert.That(Models.Same(Models.Outputs(target, samples)["logits"], expected["logits"]), Is.False, "the seeds must give different models to begin with");

        var report = RoundTrip(source, target, Path.Combine(TestPaths.NewTempDirectory("pointnet"), "pointnet" + extension));

        Models.AssertSameOutputs(expected, Models.Outputs(target, samples));
        // Every parameter and buffer (running statistics and num_batches_tracked included) came from the file.
        Assert.That(report.Loaded.Count, Is.EqualTo(source.Module.state_dict().Count));
        Assert.That(report.Unmapped, Is.Empty);
        Assert.That(report.Missing, Is.Empty);
        var sourceState = source.Module.state_dict();
        foreach (var (key, tensor) in target.Module.state_dict())
            Assert.That(Models.Same(tensor, sourceState[key]), Is.True, key);
    }

    [Test]
    public void CenterPoint_round_trips_through_a_pt_file_with_identical_head_maps()
    {
        using var source = Models.CenterPoint(seed: 1);
        using var target = Models.CenterPoint(seed: 2);
        var frame = Models.Frame();
        var expected = Models.Outputs(source, frame);

        RoundTrip(source, target, Path.Combine(TestPaths.NewTempDirectory("centerpoint"), "centerpoint.pt"));

        Models.AssertSameOutputs(expected, Models.Outputs(target, frame));
    }

    [Test]
    public void Rename_rules_apply_in_order_on_export_and_import()
    {
        using var source = Models.PointNet(seed: 1);
        using var target = Models.PointNet(seed: 2);
        var file = Path.Combine(TestPaths.NewTempDirectory("renamed"), "dataparallel.pt");
        // As nn.DataParallel saves: every name prefixed with "module."; the classifier named "head" as well.
        RenameRule[] export = [new() { Pattern = "^", Replacement = "module." }, new() { Pattern = @"^module\.classifier\.", Replacement = "module.head." }];
        RenameRule[] import = [new() { Pattern = @"^module\.", Replacement = "" }, new() { Pattern = @"^head\.(.*)$", Replacement = "classifier.$1" }];

        var report = RoundTrip(source, target, file, export, import);

        using (NewDisposeScope())
        {
            var names = StateDictFile.Read(file).Keys;
            Assert.That(names, Has.Member("module.head.linear.weight").And.Member("module.mlp1.conv.weight").And.Member("module.mlp1.norm.running_mean"));
            Assert.That(names.All(n => n.StartsWith("module.", StringComparison.Ordinal)), Is.True);
        }
        Assert.That(report.Loaded, Has.Member(("module.head.linear.bias", "classifier.linear.bias")));
        Assert.That(report.Missing, Is.Empty);
        Models.AssertSameOutputs(Models.Outputs(source, Models.Shapes(2, 32)), Models.Outputs(target, Models.Shapes(2, 32)));
    }

    [Test]
    public void A_masked_model_exports_zeros_where_its_masks_remove_weights()
    {
        using var model = Models.PointNet(seed: 1);
        var layer = model.PrunableLayers.First(l => l.Name == "mlp2.conv");
        using var keep = ones_like(layer.Weight);
        using (no_grad()) keep[0].zero_();   // the first output channel removed
        model.Masks.Set(layer, keep);
        // Weights changed behind the mask's back (as an optimiser step does before the mask is applied again).
        using (no_grad()) layer.Weight.fill_(0.5f);
        var file = Path.Combine(TestPaths.NewTempDirectory("masked"), "masked.safetensors");

        using (NewDisposeScope()) StateDictFile.Write(file, ExportPyTorchStep.StateDictOf(model, Plain(model, toModel: false)));

        using var _ = NewDisposeScope();
        var weight = StateDictFile.Read(file)["mlp2.conv.weight"];
        Assert.That(weight[0].abs().sum().item<float>(), Is.EqualTo(0f));
        Assert.That(weight[1].min().item<float>(), Is.EqualTo(0.5f));
        Assert.That(layer.Weight[0].min().item<float>(), Is.EqualTo(0.5f), "the export leaves the model's own tensors as they were");
    }

    [Test]
    public void Float64_weights_are_converted_to_the_models_dtype()
    {
        using var source = Models.PointNet(seed: 1);
        using var target = Models.PointNet(seed: 2);
        var file = Path.Combine(TestPaths.NewTempDirectory("double"), "double.safetensors");
        using (NewDisposeScope())
        {
            var doubles = ExportPyTorchStep.StateDictOf(source, Plain(source, toModel: false))
                .ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to_type(ScalarType.Float64) : kv.Value);
            StateDictFile.Write(file, doubles);
        }
        using var _ = NewDisposeScope();
        var report = WeightImport.Apply(target, StateDictFile.Read(file), Plain(target, toModel: true), allowMissing: false, file);

        Assert.That(report.DTypeConversions, Is.EqualTo(target.Module.state_dict().Count(kv => kv.Value.is_floating_point())));
        Assert.That(target.Module.parameters().All(p => p.dtype == ScalarType.Float32), Is.True);
        Models.AssertSameOutputs(Models.Outputs(source, Models.Shapes(2, 32)), Models.Outputs(target, Models.Shapes(2, 32)));
    }
}
