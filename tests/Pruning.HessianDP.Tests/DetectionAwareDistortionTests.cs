using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class DetectionAwareDistortionTests
{
    /// <summary>Declares a heatmap (logits) and a regression map, as CenterPoint does; nothing else.</summary>
    private sealed class HeatmapDetectorOutputs() : ModelBase("heatmap-outputs", new { }, new DatasetInfo("synthetic", ModelTask.Detection3D, ["a"], 3))
    {
        private readonly nn.Module _net = nn.Sequential(("fc", nn.Linear(1, 1)));
        public override ModelTask Task => ModelTask.Detection3D;
        public override nn.Module Module => _net;
        public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("hm", DistortionGroup.Confidence), new("reg", DistortionGroup.Locality)];
        protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;
        public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
        public override ModelOutput Forward(ModelBatch batch) => throw new NotSupportedException();
        public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
        public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    }

    private static ModelOutput Outputs(Tensor hm, Tensor reg) => new(new Dictionary<string, Tensor> { ["hm"] = hm, ["reg"] = reg });

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static readonly DistortionWeights Aware = new() { Kind = DistortionKind.DetectionAware, ForegroundThreshold = 0.1, ForegroundWeight = 10 };

    [Test]
    public void Heatmaps_are_compared_in_sigmoid_space_with_foreground_cells_weighted_up()
    {
        using var model = new HeatmapDetectorOutputs();
        // Dense: one foreground cell (σ(0) = 0.5) and one background cell (σ(-10) < 0.1); the compressed model moves both.
        var dense = Outputs(tensor(new float[] { 0, -10 }).reshape(1, 1, 1, 2), zeros(1, 2, 1, 2));
        var pruned = Outputs(tensor(new float[] { -1, -2 }).reshape(1, 1, 1, 2), zeros(1, 2, 1, 2));
        var fg = Sigmoid(-1) - Sigmoid(0);
        var bg = Sigmoid(-2) - Sigmoid(-10);
        var expected = (10 * fg * fg + bg * bg) / 11; // Σ w·(Δσ)² / Σ w; the regression maps agree

        Assert.That(OutputDistortion.Between(model, dense, pruned, Aware).item<float>(), Is.EqualTo(expected).Within(1e-6));
        // Raw: the logits' squared differences, unweighted: (1² + 8²) / 2.
        Assert.That(OutputDistortion.Between(model, dense, pruned, new DistortionWeights()).item<float>(), Is.EqualTo(32.5).Within(1e-5));
    }

    /// <summary>A 3x5 heatmap: a peak σ(2) at (1,1), a weaker isolated peak σ(0) at (1,4), and σ(1) at (0,0), which is foreground but next to the stronger (1,1).</summary>
    private static Tensor PeakHeatmap()
    {
        var logits = full(3, 5, -10f);
        logits[1, 1] = tensor(2f);
        logits[1, 4] = tensor(0f);
        logits[0, 0] = tensor(1f);
        return logits.reshape(1, 1, 3, 5);
    }

    [Test]
    public void Peaks_are_local_maxima_above_the_threshold_and_only_the_top_k_per_class_are_kept()
    {
        var q = PeakHeatmap().sigmoid();
        var all = OutputDistortion.PeakCells(q, Aware);
        Assert.That(all.shape, Is.EqualTo(new long[] { 1, 1, 3, 5 }));
        var cells = all.flatten().data<bool>().ToArray();
        Assert.That(Enumerable.Range(0, 15).Where(i => cells[i]), Is.EqualTo(new[] { 1 * 5 + 1, 1 * 5 + 4 }));

        var top1 = OutputDistortion.PeakCells(q, Aware with { PeaksPerClass = 1 }).flatten().data<bool>().ToArray();
        Assert.That(Enumerable.Range(0, 15).Where(i => top1[i]), Is.EqualTo(new[] { 1 * 5 + 1 }));
    }

    [Test]
    public void Regression_maps_are_compared_only_at_the_dense_model_peaks()
    {
        using var model = new HeatmapDetectorOutputs();
        var hm = PeakHeatmap();
        var reg = full(1, 2, 3, 5, 100f); // far off everywhere but at the peaks
        reg[0, .., 1, 1] = tensor(new float[] { 1, 3 }); // mean square 5
        reg[0, .., 1, 4] = tensor(new float[] { 2, 0 }); // mean square 2
        var dense = Outputs(hm, zeros(1, 2, 3, 5));
        var pruned = Outputs(hm.clone(), reg);

        Assert.That(OutputDistortion.Between(model, dense, pruned, Aware).item<float>(), Is.EqualTo((5 + 2) / 2.0).Within(1e-5));
        Assert.That(OutputDistortion.Between(model, dense, pruned, Aware with { PeaksPerClass = 1 }).item<float>(), Is.EqualTo(5).Within(1e-5));
        Assert.That(OutputDistortion.Between(model, dense, pruned, Aware with { Locality = 0.5 }).item<float>(), Is.EqualTo(1.75).Within(1e-5), "the locality weight scales the term");
    }

    [Test]
    public void A_frame_without_peaks_has_no_regression_distortion()
    {
        using var model = new HeatmapDetectorOutputs();
        var dense = Outputs(full(1, 1, 3, 5, -10f), zeros(1, 2, 3, 5));
        var pruned = Outputs(full(1, 1, 3, 5, -10f), full(1, 2, 3, 5, 7f));
        Assert.That(OutputDistortion.Between(model, dense, pruned, Aware).item<float>(), Is.EqualTo(0).Within(1e-7));
    }

    [Test]
    public void The_pruning_step_option_selects_the_distortion_and_measured_curves_use_it()
    {
        var options = new HessianDPOptions { Distortion = DistortionKind.DetectionAware, ForegroundThreshold = 0.2, ForegroundWeight = 5, PeaksPerClass = 7, CurveLevels = 3 };
        var weights = CalibrationSet.WeightsOf(options);
        Assert.That((weights.Kind, weights.ForegroundThreshold, weights.ForegroundWeight, weights.PeaksPerClass), Is.EqualTo((DistortionKind.DetectionAware, 0.2, 5.0, 7)));
        Assert.That(CalibrationSet.WeightsOf(new PruningOptions()).Kind, Is.EqualTo(DistortionKind.Raw), "Raw stays the default");

        using var model = TrainedModels.Detector(seed: 31);
        var outcome = new HessianDPCompressor(options).Run(TestPipeline.Context(model));
        Assert.That(outcome.Notes, Has.Some.Contains("Distortion=DetectionAware"));
        Assert.That(outcome.Metrics["distortionSingleLayerSum"], Is.GreaterThan(0));
    }

    [Test]
    public void Predicted_curves_refuse_the_detection_aware_distortion_by_name()
    {
        using var model = TrainedModels.Detector(seed: 32);
        var options = new HessianDPOptions { Distortion = DistortionKind.DetectionAware, Curves = CurveSource.Predicted };
        var error = Assert.Throws<ArgumentException>(() => new HessianDPCompressor(options).Run(TestPipeline.Context(model)));
        Assert.That(error!.Message, Does.Contain("Distortion=DetectionAware").And.Contain("Curves=Measured"));
    }
}
