using Platform.Abstractions.Kit;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class FineTuneTests
{
    [Test]
    public void Training_after_hessian_dp_keeps_its_masks_so_the_flops_reduction_survives_fine_tuning()
    {
        using var model = TrainedModels.Detector(seed: 51);
        var context = TestPipeline.Context(model, seed: 51);
        var outcome = new HessianDPCompressor(new HessianDPOptions { FlopsReduction = 4, CurveLevels = 4 }).Run(context);
        var pruned = model.PrunableLayers.Select(l => l.Weight.detach().eq(0)).ToList();

        new Trainer(context.Services).Fit(model, context.Split("train"), new TrainOptions { Epochs = 2, BatchSize = 8, LearningRate = 1e-3 });

        for (var i = 0; i < pruned.Count; i++)
        {
            var weight = model.PrunableLayers[i].Weight.detach();
            Assert.That(weight.masked_select(pruned[i]).count_nonzero().item<long>(), Is.Zero, $"{model.PrunableLayers[i].Name}: removed weights stay removed");
        }
        Assert.That(ModelStats.Measure(model).Flops, Is.EqualTo(outcome.Metrics["capacityFlopsAfter"]).Within(1e-9 * outcome.Metrics["capacityFlopsAfter"]));
    }
}
