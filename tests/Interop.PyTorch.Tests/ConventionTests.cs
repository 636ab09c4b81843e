using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Plugins.Interop.PyTorch;
using Platform.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>A model's known weight-name convention (IKnownWeightNames) renames on import and, the other way, on export.</summary>
public class ConventionTests
{
    /// <summary>A linear layer and its batch norm, named in the convention "reference" as a published implementation might: fc1, bn1.</summary>
    private sealed class ConventionalModel : ModelBase, IKnownWeightNames
    {
        private sealed class Network : nn.Module<Tensor, Tensor>
        {
            private readonly TorchSharp.Modules.Linear linear = nn.Linear(3, 4);
            private readonly TorchSharp.Modules.BatchNorm1d norm = nn.BatchNorm1d(4);

            public Network() : base("conventional") => RegisterComponents();

            public override Tensor forward(Tensor x) => norm.forward(linear.forward(x));
        }

        private readonly Network network = new();

        public ConventionalModel() : base("conventional", new object(), new DatasetInfo("d", ModelTask.Classification, ["a", "b"], 3)) { }

        public override ModelTask Task => ModelTask.Classification;
        public override nn.Module Module => network;
        public override IReadOnlyList<DistortionOutput> DistortionOutputs => [];
        protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;
        public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
        public override ModelOutput Forward(ModelBatch batch) => throw new NotSupportedException();
        public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
        public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();

        public Tensor Run(Tensor x) => network.forward(x);

        public IReadOnlyList<string> WeightNameConventions => ["reference"];

        public IReadOnlyDictionary<string, string> ConventionNames(string convention) =>
            Module.state_dict().Keys.ToDictionary(k => k, k => k.Replace("linear.", "fc1.").Replace("norm.", "bn1."));
    }

    [Test]
    public void A_convention_names_the_exported_file_and_maps_it_back_on_import()
    {
        Platform.Abstractions.Kit.Seeding.Seed(1);
        using var source = new ConventionalModel();
        Platform.Abstractions.Kit.Seeding.Seed(2);
        using var target = new ConventionalModel();
        using (no_grad()) foreach (var (name, buffer) in source.Module.named_buffers()) if (name.EndsWith("running_mean")) buffer.fill_(0.25f);
        var file = Path.Combine(TestPaths.NewTempDirectory("convention"), "reference.pt");

        using (NewDisposeScope())
            StateDictFile.Write(file, ExportPyTorchStep.StateDictOf(source, WeightNames.For(source, "reference", "Convention", [], "Rename", toModel: false)));
        using var _ = NewDisposeScope();
        var tensors = StateDictFile.Read(file);
        Assert.That(tensors.Keys, Is.EquivalentTo(new[] { "fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked" }));

        var report = WeightImport.Apply(target, tensors, WeightNames.For(target, "Reference", "Convention", [], "Rename", toModel: true), allowMissing: false, file);

        Assert.That(report.Loaded, Has.Member(("bn1.running_mean", "norm.running_mean")));
        source.Module.eval();
        target.Module.eval();
        using var x = randn(5, 3);
        Assert.That(Models.Same(target.Run(x), source.Run(x)), Is.True);
    }

    [Test]
    public void An_unknown_convention_is_refused_naming_the_option_and_the_known_ones()
    {
        using var conventional = new ConventionalModel();
        var error = Assert.Throws<ArgumentException>(() => WeightNames.For(conventional, "openpcdet", "Pipeline:Steps:0:Options:Convention", [], "Rename", toModel: true))!;
        Assert.That(error.Message, Does.StartWith("Pipeline:Steps:0:Options:Convention").And.Contain("'openpcdet'").And.Contain("reference"));

        using var pointNet = Models.PointNet(seed: 1);
        Assert.That(Assert.Throws<ArgumentException>(() => WeightNames.For(pointNet, "fxia22", "Convention", [], "Rename", toModel: true))!.Message, Does.Contain("knows none"));
    }

    [Test]
    public void A_rename_pattern_that_is_not_a_regular_expression_is_refused_naming_its_key()
    {
        var error = Assert.Throws<ArgumentException>(() => WeightNames.Compile([new RenameRule { Pattern = "(unclosed", Replacement = "" }], "Pipeline:Steps:1:Options:Rename"))!;
        Assert.That(error.Message, Does.StartWith("Pipeline:Steps:1:Options:Rename:0:Pattern"));
    }
}
