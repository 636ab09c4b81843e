using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class ScratchTests
{
    [Test]
    public void Scratch()
    {
        var split = new SyntheticPointDataset(0).GetSplit("val");
        foreach (var (name, make) in new (string, Func<ICompressor>)[]
        {
            ("hdp", () => new HessianDPCompressor(new HessianDPOptions { HonestyLayers = 0 })),
            ("hdp-mag", () => new HessianDPCompressor(new HessianDPOptions { HonestyLayers = 0, Ranking = WithinLayerRanking.Magnitude })),
            ("hdp-64", () => new HessianDPCompressor(new HessianDPOptions { HonestyLayers = 0, CalibrationSamples = 64, Projections = 32 })),
            ("uniform", () => new UniformMagnitudeCompressor(new PruningOptions())),
            ("global", () => new GlobalMagnitudeCompressor(new PruningOptions())),
            ("lamp", () => new LampCompressor(new PruningOptions())),
        })
        {
            using var model = TrainedModels.Detector(seed: 5);
            var batches = Enumerable.Range(0, 4).Select(b => model.Collate(Enumerable.Range(b * 8, 8).Select(split.Get).ToList(), CPU)).ToList();
            List<ModelOutput> dense;
            using (no_grad()) dense = batches.Select(model.Forward).ToList();
            var outcome = make().Run(TestPipeline.Context(model));
            double sum = 0;
            using (no_grad()) for (var b = 0; b < 4; b++) sum += OutputDistortion.Between(model, dense[b], model.Forward(batches[b]), new DistortionWeights()).item<float>();
            var plan = string.Join(" ", outcome.Tables[0].Rows.Select(r => $"{r[0]}:{r[4]}"));
            TestContext.Out.WriteLine($"{name}: val {sum / 4:G4} calib {outcome.Metrics.GetValueOrDefault("distortion_measured"):G4} pred {outcome.Metrics.GetValueOrDefault("distortion_predicted"):G4} | {plan} | cal {outcome.Metrics.GetValueOrDefault("calibration_seconds"):F2}s curve {outcome.Metrics.GetValueOrDefault("curve_seconds"):F2}s dp {outcome.Metrics.GetValueOrDefault("dp_seconds"):F2}s total {outcome.Metrics["pruning_seconds"]:F2}");
        }
    }
}
