using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class MeasuredCurveTests
{
    /// <summary>Output distortion against <paramref name="dense"/>, computed here without the plugin's calibration code.</summary>
    private static double Distortion(IModel model, IReadOnlyList<ModelOutput> dense, IReadOnlyList<ModelBatch> batches)
    {
        using var _ = no_grad();
        double sum = 0;
        for (var b = 0; b < batches.Count; b++)
        {
            using var scope = NewDisposeScope();
            sum += OutputDistortion.Between(model, dense[b], model.Forward(batches[b]), new DistortionWeights()).to_type(ScalarType.Float64).item<double>();
        }
        return sum / batches.Count;
    }

    private static (List<LayerDistortionCurve> Curves, FlopsBudget Budget) MeasureCurves(IModel model, HessianDPOptions options)
    {
        var context = TestPipeline.Context(model);
        var budget = FlopsBudget.Resolve(model, options, "test");
        using var calibration = CalibrationSet.Load(context, model, options, "test");
        return (DistortionCurves.Measure(model, calibration, budget.Candidates, options.CurveLevels, NullProgressReporter.Instance, "test"), budget);
    }

    /// <summary>The calibration set of <paramref name="model"/> (the caller disposes it), its prunable layers and their measured levels.</summary>
    private static (CalibrationSet Calibration, IReadOnlyList<PruningCandidate> Candidates, long[][] Grids) Calibrated(IModel model, int levels, int samples)
    {
        var options = new HessianDPOptions { CurveLevels = levels, CalibrationSamples = samples, CalibrationBatchSize = 4 };
        var candidates = FlopsBudget.Resolve(model, options, "test").Candidates;
        return (CalibrationSet.Load(TestPipeline.Context(model), model, options, "test"), candidates,
            candidates.Select(c => DistortionCurves.MeasuredLevels(c, levels)).ToArray());
    }

    [Test]
    public void A_measured_curve_value_is_the_distortion_of_that_layer_alone_pruned_to_that_level()
    {
        using var model = TrainedModels.Detector(seed: 11);
        var options = new HessianDPOptions { CurveLevels = 4, CalibrationSamples = 16, CalibrationBatchSize = 4 };
        var original = model.PrunableLayers.Select(l => l.Weight.detach().clone()).ToList();
        var (curves, _) = MeasureCurves(model, options);

        // The same 16 training samples in batches of 4, and the dense outputs, built here.
        var split = TestPipeline.Context(model).Split("train");
        var batches = Enumerable.Range(0, 4).Select(b => model.Collate(Enumerable.Range(b * 4, 4).Select(split.Get).ToList(), CPU)).ToList();
        List<ModelOutput> dense;
        using (no_grad()) dense = batches.Select(model.Forward).ToList();

        for (var i = 0; i < curves.Count; i++)
        {
            var layer = model.PrunableLayers[i];
            Assert.That(layer.Weight.detach().equal(original[i]).all().item<bool>(), Is.True, $"{layer.Name} is restored after its curve");
            var curve = curves[i];
            Assert.That(curve.Levels, Has.Length.EqualTo(5), "0 and 4 levels up to MaxSparsity");
            Assert.That(curve.Levels![^1], Is.EqualTo((long)Math.Floor(0.98 * layer.WeightCount)));
            for (var j = 0; j < curve.Levels.Length; j++)
            {
                var n = curve.Levels[j];
                // Prune this layer alone: its n smallest |w| go.
                using (no_grad())
                {
                    var smallest = layer.Weight.detach().abs().flatten().argsort().slice(0, 0, n, 1);
                    layer.Weight.view(-1).index_fill_(0, smallest, 0);
                }
                var real = Distortion(model, dense, batches);
                using (no_grad()) layer.Weight.copy_(original[i]);
                Assert.That(curve.Measured![j], Is.EqualTo(real).Within(1e-6 * Math.Max(1, real)), $"{layer.Name} at {n} of {layer.WeightCount}");
                Assert.That(curve.At(n), Is.EqualTo(curve.Measured.Take(j + 1).Max()).Within(1e-12), "the curve is the running maximum");
            }
            // Linear between two measured levels.
            long a = curve.Levels![1], b = curve.Levels[2];
            Assert.That(curve.At((a + b) / 2), Is.EqualTo(curve.At(a) + (curve.At(b) - curve.At(a)) * ((a + b) / 2 - a) / (b - a)).Within(1e-12));
            Assert.That(curve.Measured![^1], Is.GreaterThan(0), $"{layer.Name} pruned to 98% changes the outputs");
        }
        foreach (var c in curves) c.Dispose();
        foreach (var b in batches) b.Dispose();
    }

    [Test]
    public void Curves_measured_after_a_refit_lie_below_the_plain_curves_of_the_output_layers_and_restore_every_layer()
    {
        using var model = TrainedModels.Detector(seed: 12);
        var (calibration, candidates, grids) = Calibrated(model, levels: 4, samples: 16);
        using var _ = calibration;
        var original = model.PrunableLayers.Select(l => l.Weight.detach().clone()).ToList();

        var plain = DistortionCurves.MeasureValues(model, calibration, candidates, grids, NullProgressReporter.Instance, "test");
        var refitted = DistortionCurves.MeasureValues(model, calibration, candidates, grids, NullProgressReporter.Instance, "test", refitDamping: 1e-8);

        for (var i = 0; i < model.PrunableLayers.Count; i++)
            Assert.That(model.PrunableLayers[i].Weight.detach().equal(original[i]).all().item<bool>(), Is.True, $"{model.PrunableLayers[i].Name} restored");
        // An output layer's share of the distortion is the squared error of its outputs, which its least-squares refit
        // minimises over the kept weights: never above magnitude pruning alone, and below it once much is pruned.
        var outputs = candidates.Select((c, i) => (c, i)).Where(x => x.c.Name.EndsWith("heatmap") || x.c.Name.EndsWith("boxes")).ToList();
        Assert.That(outputs, Has.Count.EqualTo(2));
        foreach (var (candidate, i) in outputs)
        {
            for (var j = 1; j < grids[i].Length; j++)
                Assert.That(refitted[i][j], Is.LessThanOrEqualTo(plain[i][j] * (1 + 1e-5) + 1e-12), $"{candidate.Name} level {j}");
            Assert.That(refitted[i][^1], Is.LessThan(plain[i][^1] * 0.9), $"{candidate.Name} at the top level");
        }
    }

    [Test]
    public void Curves_measured_from_the_cached_input_of_each_layers_stage_equal_whole_pass_curves_and_run_earlier_stages_once_per_layer()
    {
        using var plain = TrainedModels.Detector(seed: 15);
        using var staged = TrainedModels.Detector(seed: 15, staged: true);
        Assert.That(staged, Is.InstanceOf<IStagedForward>());
        var (plainCalibration, candidates, grids) = Calibrated(plain, levels: 3, samples: 8);
        var (stagedCalibration, stagedCandidates, _) = Calibrated(staged, levels: 3, samples: 8);
        using var a = plainCalibration;
        using var b = stagedCalibration;
        var plan = grids.Select(g => g[1]).ToArray();

        foreach (var rest in new[] { null, plan })
        {
            var passes = (plain.FirstStagePasses, staged.FirstStagePasses);
            var whole = DistortionCurves.MeasureValues(plain, plainCalibration, candidates, grids, NullProgressReporter.Instance, "test", rest: rest);
            var fromStage = DistortionCurves.MeasureValues(staged, stagedCalibration, stagedCandidates, grids, NullProgressReporter.Instance, "test", rest: rest);
            for (var i = 0; i < candidates.Count; i++)
                Assert.That(fromStage[i], Is.EqualTo(whole[i]), $"{candidates[i].Name}, {(rest is null ? "alone" : "around a plan")}: the same values, bit for bit");

            // 2 calibration batches. The whole pass runs conv1 at every measurement; the staged one only for conv1's own
            // levels and once per other layer, to cache its stage's input.
            var measurements = grids.Sum(g => g.Length - (rest is null ? 1 : 0));
            var conv1 = candidates.Select(c => c.Name).ToList().IndexOf("conv1");
            Assert.That(plain.FirstStagePasses - passes.Item1, Is.EqualTo(2 * measurements));
            Assert.That(staged.FirstStagePasses - passes.Item2, Is.EqualTo(2 * (grids[conv1].Length - (rest is null ? 1 : 0) + candidates.Count - 1)));
        }
    }

    [Test]
    public void Curves_around_a_plan_that_prunes_nothing_are_the_single_layer_curves()
    {
        using var model = TrainedModels.Detector(seed: 13);
        var (calibration, candidates, grids) = Calibrated(model, levels: 3, samples: 8);
        using var _ = calibration;

        var alone = DistortionCurves.MeasureValues(model, calibration, candidates, grids, NullProgressReporter.Instance, "test");
        var around = DistortionCurves.MeasureValues(model, calibration, candidates, grids, NullProgressReporter.Instance, "test",
            rest: candidates.Select(c => c.AlreadyZero).ToArray());

        for (var i = 0; i < candidates.Count; i++)
            Assert.That(around[i], Is.EqualTo(alone[i]).Within(1e-9), candidates[i].Name);
    }

    [Test]
    public void A_curve_around_a_plan_is_the_distortion_its_layer_adds_to_the_rest_pruned_as_planned_and_every_layer_is_restored()
    {
        using var model = TrainedModels.Detector(seed: 14);
        var (calibration, candidates, grids) = Calibrated(model, levels: 3, samples: 8);
        using var _ = calibration;
        var plan = grids.Select(g => g[2]).ToArray();
        var original = candidates.Select(c => c.Layer.Weight.detach().clone()).ToList();

        var around = DistortionCurves.MeasureValues(model, calibration, candidates, grids, NullProgressReporter.Instance, "test", rest: plan);
        var joint = DistortionCurves.MeasureJoint(model, calibration, candidates, plan);
        for (var i = 0; i < candidates.Count; i++)
            Assert.That(candidates[i].Layer.Weight.detach().equal(original[i]).all().item<bool>(), Is.True, $"{candidates[i].Name} restored");

        // Built here: every layer's smallest |w| removed to the plan's count, then layer i at each of its levels.
        void PruneTo(int layer, long count)
        {
            using var _ = no_grad();
            var weight = candidates[layer].Layer.Weight;
            weight.copy_(original[layer]);
            weight.view(-1).index_fill_(0, original[layer].abs().flatten().argsort().slice(0, 0, count, 1), 0);
        }
        for (var k = 0; k < candidates.Count; k++) PruneTo(k, plan[k]);
        Assert.That(joint, Is.EqualTo(calibration.Measure(model)).Within(1e-9), "the joint distortion of the plan");
        foreach (var i in new[] { 0, candidates.Count - 1 })
        {
            PruneTo(i, 0);
            var baseline = calibration.Measure(model);
            for (var j = 1; j < grids[i].Length; j++)
            {
                PruneTo(i, grids[i][j]);
                Assert.That(around[i][j], Is.EqualTo(calibration.Measure(model) - baseline).Within(1e-9), $"{candidates[i].Name} level {j}");
            }
            Assert.That(around[i][2], Is.EqualTo(joint - baseline).Within(1e-9), $"{candidates[i].Name}: at its planned level, the plan's distortion less the plan's without it");
            PruneTo(i, plan[i]);
        }
        for (var k = 0; k < candidates.Count; k++) using (no_grad()) candidates[k].Layer.Weight.copy_(original[k]);
    }

    [Test]
    public void Measured_curves_along_given_scores_remove_the_lowest_scored_weights_first()
    {
        using var model = TrainedModels.Detector(seed: 11);
        var options = new HessianDPOptions { CurveLevels = 3, CalibrationSamples = 8, CalibrationBatchSize = 4 };
        var context = TestPipeline.Context(model);
        var budget = FlopsBudget.Resolve(model, options, "test");
        using var calibration = CalibrationSet.Load(context, model, options, "test");
        // Scores that reverse magnitude: the largest weights go first.
        var scores = budget.Candidates.Select(c => -c.Layer.Weight.detach().abs().to_type(ScalarType.Float64)).ToArray();
        var grids = budget.Candidates.Select(c => DistortionCurves.MeasuredLevels(c, options.CurveLevels)).ToArray();
        var byScore = DistortionCurves.MeasureValues(model, calibration, budget.Candidates, grids, NullProgressReporter.Instance, "test", scores);
        var byMagnitude = DistortionCurves.MeasureValues(model, calibration, budget.Candidates, grids, NullProgressReporter.Instance, "test");

        for (var i = 0; i < budget.Candidates.Count; i++)
        {
            var layer = budget.Candidates[i].Layer;
            var original = layer.Weight.detach().clone();
            var n = grids[i][1];
            using (no_grad())
            {
                var largest = layer.Weight.detach().abs().flatten().argsort(descending: true).slice(0, 0, n, 1);
                layer.Weight.view(-1).index_fill_(0, largest, 0);
            }
            var real = calibration.Measure(model);
            using (no_grad()) layer.Weight.copy_(original);
            Assert.That(byScore[i][1], Is.EqualTo(real).Within(1e-6 * Math.Max(1, real)), $"{layer.Name}: the largest {n} weights removed");
            Assert.That(byScore[i][1], Is.GreaterThan(byMagnitude[i][1]), $"{layer.Name}: removing the largest weights costs more than the smallest");
        }
        using var curves = new DisposableList(DistortionCurves.FromMeasured(budget.Candidates, grids, byScore, scores));
        Assert.That(curves.Items[0].Order[0].item<long>(), Is.EqualTo(budget.Candidates[0].Layer.Weight.detach().abs().flatten().argmax().item<long>()), "the curve's order is the scores' order");
        foreach (var t in scores) t.Dispose();
    }

    private sealed class DisposableList(List<LayerDistortionCurve> items) : IDisposable
    {
        public List<LayerDistortionCurve> Items { get; } = items;
        public void Dispose() { foreach (var c in Items) c.Dispose(); }
    }

    [Test]
    public void Hessian_dp_with_measured_curves_along_the_ranking_differs_from_magnitude_order_only_through_the_order()
    {
        Dictionary<string, double> Run(MeasuredOrder order, WithinLayerRanking ranking)
        {
            using var model = TrainedModels.Detector(seed: 13);
            return new HessianDPCompressor(new HessianDPOptions { FlopsReduction = 3, MeasuredOrder = order, Ranking = ranking }).Run(TestPipeline.Context(model)).Metrics;
        }
        var magnitude = Run(MeasuredOrder.Magnitude, WithinLayerRanking.HessianSaliency);
        var rankedByMagnitude = Run(MeasuredOrder.Ranking, WithinLayerRanking.Magnitude);
        var saliency = Run(MeasuredOrder.Ranking, WithinLayerRanking.HessianSaliency);
        Assert.That(rankedByMagnitude["distortionMeasured"], Is.EqualTo(magnitude["distortionMeasured"]).Within(1e-9), "Ranking=Magnitude is the magnitude order");
        Assert.That(saliency["distortionMeasured"], Is.Not.EqualTo(magnitude["distortionMeasured"]).Within(1e-9));
        Assert.That(saliency.ContainsKey("backwardPasses"), Is.True, "the ranking's estimate ran");
        Assert.That(saliency["flopsReduction"], Is.EqualTo(3).Within(0.03));
    }

    [Test]
    public void Measured_values_are_made_monotone_by_a_running_maximum()
    {
        Assert.That(DistortionCurves.Monotone([0, 0.3, 0.2, 0.5, 0.4]), Is.EqualTo(new[] { 0, 0.3, 0.3, 0.5, 0.5 }));
    }

    [Test]
    public void Measured_levels_run_from_the_weights_already_zero_to_max_sparsity_in_shrinking_steps()
    {
        using var model = new TinyLinearModel();
        var candidate = new PruningCandidate(model.PrunableLayers[0], 1000, 100, 950);
        var levels = DistortionCurves.MeasuredLevels(candidate, 4);
        // 100 + (1 - (1 - d/4)^1.5)·850: d = 1: 100 + 0.3505·850 = 397.9; d = 2: 100 + 0.6464·850 = 649.48; d = 3: 100 + 0.875·850 = 843.75.
        Assert.That(levels, Is.EqualTo(new long[] { 100, 398, 649, 844, 950 }));
    }

    [Test]
    public void The_dp_on_measured_curves_picks_the_allocation_of_least_total_measured_distortion()
    {
        using var model = TrainedModels.Detector(seed: 12);
        var options = new HessianDPOptions { CurveLevels = 3, BudgetSteps = 500 };
        var (curves, budget) = MeasureCurves(model, options);
        var (grids, levels) = HessianDPCompressor.LevelsOf(curves, options);
        for (var i = 0; i < curves.Count; i++)
            Assert.That(levels[i].Distortion, Is.EqualTo(DistortionCurves.Monotone(curves[i].Measured!)), "the DP reads the measured values");

        var chosen = SparsityAllocation.DynamicProgramming(levels, budget.CandidateBudget, options.BudgetSteps);

        // Every combination of measured levels that fits the same discretised budget.
        var units = SparsityAllocation.DiscretisedCosts(levels, budget.CandidateBudget, options.BudgetSteps);
        var best = double.PositiveInfinity;
        var choice = new int[levels.Count];
        var combinations = 0;
        void Visit(int l)
        {
            if (l == levels.Count)
            {
                combinations++;
                if (choice.Select((c, i) => units[i][c]).Sum() > options.BudgetSteps) return;
                best = Math.Min(best, choice.Select((c, i) => levels[i].Distortion[c]).Sum());
                return;
            }
            for (var c = 0; c < levels[l].Count; c++) { choice[l] = c; Visit(l + 1); }
        }
        Visit(0);

        Assert.That(combinations, Is.GreaterThan(100));
        Assert.That(chosen.Select((c, i) => levels[i].Distortion[c]).Sum(), Is.EqualTo(best).Within(1e-12));
        Assert.That(chosen.Select((c, i) => curves[i].Candidate.FlopsAt(grids[i][c])).Sum(), Is.LessThanOrEqualTo(budget.CandidateBudget * (1 + 1e-9)));
        Assert.That(chosen.Any(c => c > 0), Is.True, "the budget forces some pruning");
        foreach (var c in curves) c.Dispose();
    }

    [Test]
    public void Hessian_dp_reports_measured_curve_time_and_the_single_layer_sum()
    {
        using var model = TrainedModels.Detector(seed: 13);
        var outcome = new HessianDPCompressor(new HessianDPOptions { FlopsReduction = 3 }).Run(TestPipeline.Context(model));
        var layers = model.PrunableLayers.Count;
        Assert.That(outcome.Metrics["curvePasses"], Is.EqualTo(layers * 12));
        foreach (var key in new[] { "curveSeconds", "distortionSingleLayerSum", "distortionMeasured", "distortionMeasuredBeforeBatchnorm" })
            Assert.That(outcome.Metrics, Does.ContainKey(key));
        Assert.That(outcome.Metrics, Does.Not.ContainKey("distortionPredicted"));
        Assert.That(outcome.Metrics, Does.Not.ContainKey("backwardPasses"), "no Hessian estimate is taken for measured curves");
    }
}
