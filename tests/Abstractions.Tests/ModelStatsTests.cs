using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Tests;

/// <summary>A two-layer model small enough to count by hand: conv 2->4 (3x3, on 8x8, padding 1) then linear 4->3.</summary>
internal sealed class TinyConvModel : ModelBase
{
    private readonly nn.Module<Tensor, Tensor> _net;

    public TinyConvModel() : base("tiny", new { }, new DatasetInfo("none", ModelTask.Classification, ["a", "b", "c"], 3))
    {
        _net = nn.Sequential(
            ("conv", nn.Conv2d(2, 4, 3, padding: 1)),
            ("pool", nn.AdaptiveAvgPool2d(1)),
            ("flat", nn.Flatten()),
            ("fc", nn.Linear(4, 3)));
    }

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => _net;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => layerName == "conv" ? 8 * 8 : 1;
    public Tensor Run(Tensor x) => _net.forward(x);
    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
    public override ModelOutput Forward(ModelBatch batch) => throw new NotSupportedException();
    public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
}

public class ModelStatsTests
{
    [Test]
    public void Dense_counts_follow_the_convolution_and_linear_formulas()
    {
        using var model = new TinyConvModel();
        var stats = ModelStats.Measure(model);

        // conv: 4*2*3*3 = 72 weights + 4 biases; fc: 3*4 = 12 weights + 3 biases.
        Assert.That(stats.Params, Is.EqualTo(72 + 4 + 12 + 3));
        // conv: each of 72 weights used at 8*8 output positions; fc: 12 weights once.
        Assert.That(stats.Flops, Is.EqualTo(72 * 64 + 12));
        Assert.That(stats.DenseFlops, Is.EqualTo(stats.Flops));
    }

    [Test]
    public void A_masked_layer_counts_only_its_surviving_weights()
    {
        using var model = new TinyConvModel();
        var conv = model.PrunableLayers.Single(l => l.Name == "conv");
        // Keep the first output channel only: 18 of 72 weights.
        var keep = zeros_like(conv.Weight);
        keep[0] = ones(2, 3, 3);
        model.Masks.Set(conv, keep);

        var stats = ModelStats.Measure(model);
        Assert.That(stats.Flops, Is.EqualTo(18 * 64 + 12));
        Assert.That(stats.DenseFlops, Is.EqualTo(72 * 64 + 12));
        Assert.That(stats.NonzeroParams, Is.EqualTo(18 + 4 + 12 + 3));
    }

    [Test]
    public void Per_layer_and_per_part_costs_add_up_to_the_model_totals()
    {
        using var model = new TinyConvModel();
        var conv = model.PrunableLayers.Single(l => l.Name == "conv");
        var keep = zeros_like(conv.Weight);
        keep[0] = ones(2, 3, 3);
        model.Masks.Set(conv, keep);

        var layers = ModelStats.Layers(model);
        Assert.That(layers.Select(l => (l.Name, l.Weights, l.NonzeroWeights, l.DenseFlops, l.Flops)),
            Is.EqualTo(new[] { ("conv", 72L, 18L, 72.0 * 64, 18.0 * 64), ("fc", 12L, 12L, 12.0, 12.0) }));
        // Each layer name is its own top-level part here; the parts' FLOPs sum to the model's prunable FLOPs.
        var parts = ModelStats.ByPart(model);
        Assert.That(parts.Sum(p => p.Flops), Is.EqualTo(ModelStats.Measure(model).PrunableFlops));
        Assert.That(parts.Select(p => p.Name), Is.EqualTo(new[] { "conv", "fc" }));
    }

    [Test]
    public void Masks_and_weights_survive_a_checkpoint_round_trip_with_identical_outputs()
    {
        Seeding.Seed(3);
        using var model = new TinyConvModel();
        var fc = model.PrunableLayers.Single(l => l.Name == "fc");
        model.Masks.Set(fc, fc.Weight.abs() > fc.Weight.abs().median());
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("ckpt"), "tiny.ckpt");
        Checkpoint.Save(model, path);

        Seeding.Seed(99); // a different initialisation, overwritten by the load
        using var reloaded = new TinyConvModel();
        Checkpoint.LoadInto(reloaded, path);

        var x = randn(2, 2, 8, 8);
        Assert.That(reloaded.Masks.Count, Is.EqualTo(1));
        Assert.That(reloaded.Run(x).allclose(model.Run(x), rtol: 0, atol: 0), Is.True, "outputs differ after reload");
        Assert.That(ModelStats.Measure(reloaded), Is.EqualTo(ModelStats.Measure(model)));
    }

    [Test]
    public void A_truncated_checkpoint_is_refused_by_name()
    {
        using var model = new TinyConvModel();
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("ckpt"), "cut.ckpt");
        Checkpoint.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..10]);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadHeader(path));
        Assert.That(error!.Message, Does.Contain("cut.ckpt"));
    }
}

public class WeightMaskTests
{
    [Test]
    public void Masks_set_inside_a_dispose_scope_outlive_it_and_keep_weights_zero_through_training_steps()
    {
        using var model = new TinyConvModel();
        var conv = model.PrunableLayers.Single(l => l.Name == "conv");
        using (var scope = NewDisposeScope())
        {
            model.Masks.Set(conv, conv.Weight.abs() > conv.Weight.abs().median());
        }
        var removed = (conv.Weight == 0).sum().item<long>();
        Assert.That(removed, Is.EqualTo(36), "half of the 72 weights are masked");

        var optimizer = optim.SGD(model.Module.parameters(), 0.1);
        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            model.Run(randn(2, 2, 8, 8)).square().sum().backward();
            optimizer.step();
            model.Masks.Apply(model.PrunableLayers);
        }
        Assert.That((conv.Weight == 0).sum().item<long>(), Is.EqualTo(36));
    }
}
