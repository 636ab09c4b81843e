using Platform.Abstractions.Kit;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class BadInputTests
{
    [Test]
    public void A_budget_beyond_max_sparsity_names_the_option_and_the_limit()
    {
        using var model = new TinyPointModel();
        var step = new HessianDPCompressor(new HessianDPOptions { FlopsReduction = 20, MaxSparsity = 0.5 });
        var error = Assert.Throws<ArgumentException>(() => step.Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("FlopsReduction").And.Contain("MaxSparsity=0.5").And.Contain("hessian-dp"));
    }

    [Test]
    public void Remaining_flops_below_the_unprunable_part_is_refused_by_name()
    {
        using var model = new TinyPointModel(otherFlops: 500);
        var step = new LampCompressor(new PruningOptions { RemainingFlops = 400 });
        var error = Assert.Throws<ArgumentException>(() => step.Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("RemainingFlops"));
    }

    [Test]
    public void A_model_without_prunable_layers_is_refused()
    {
        using var model = new NoLayerModel();
        var error = Assert.Throws<InvalidOperationException>(() => new UniformMagnitudeCompressor(new PruningOptions()).Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("no prunable layers"));
    }

    [Test]
    public void Keeping_every_layer_dense_is_refused_by_option_name()
    {
        using var model = new TinyPointModel();
        var error = Assert.Throws<ArgumentException>(() => new GlobalMagnitudeCompressor(new PruningOptions { KeepDense = "*" }).Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("KeepDense"));
    }

    [Test]
    public void A_nan_in_the_hessian_estimate_names_the_layer()
    {
        using var model = new TinyPointModel();
        var head = model.PrunableLayers.Single(l => l.Name == "heatmap");
        // A NaN weight in the confidence head poisons its outputs and every gradient flowing back through it, but not the locality head's own.
        using (no_grad()) head.Weight[0, 0] = tensor(float.NaN);
        var error = Assert.Throws<InvalidOperationException>(() => new HessianDPCompressor(new HessianDPOptions { Curves = CurveSource.Predicted }).Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("NaN").And.Contain("'heatmap'").And.Contain("'conv1'").And.Not.Contain("'boxes'"));
    }

    [Test]
    public void An_unknown_calibration_split_is_refused_by_option_name()
    {
        using var model = new TinyPointModel();
        var error = Assert.Throws<ArgumentException>(() => new HessianDPCompressor(new HessianDPOptions { CalibrationSplit = "nope" }).Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("CalibrationSplit='nope'"));
    }
}
