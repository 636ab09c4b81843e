using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class CompressorTests
{
    private static ICompressor Create(string method, double reduction, Action<PruningOptions>? configure = null)
    {
        // The honesty check costs forward passes that only its own test needs.
        PruningOptions options = method == "hessian-dp" ? new HessianDPOptions { HonestyLayers = 0 } : new PruningOptions();
        options.FlopsReduction = reduction;
        configure?.Invoke(options);
        return method switch
        {
            "hessian-dp" => new HessianDPCompressor((HessianDPOptions)options),
            "uniform-magnitude" => new UniformMagnitudeCompressor(options),
            "global-magnitude" => new GlobalMagnitudeCompressor(options),
            "lamp" => new LampCompressor(options),
            _ => throw new ArgumentException(method),
        };
    }

    /// <summary>Output distortion over the val split, computed here independently of the plugin's calibration code.</summary>
    private static double ValDistortion(IModel model, IReadOnlyList<ModelOutput> dense, IReadOnlyList<ModelBatch> batches)
    {
        using var _ = no_grad();
        double sum = 0;
        for (var b = 0; b < batches.Count; b++)
        {
            using var scope = NewDisposeScope();
            sum += OutputDistortion.Between(model, dense[b], model.Forward(batches[b]), new DistortionWeights()).item<float>();
        }
        return sum / batches.Count;
    }

    [Test]
    public void Allocation_rounds_keep_the_plan_with_the_lowest_joint_distortion_and_meet_the_budget()
    {
        using var model = TrainedModels.Detector(seed: 15);
        var dense = ModelStats.Measure(model);
        var outcome = Create("hessian-dp", 6, o =>
        {
            var h = (HessianDPOptions)o;
            (h.PlanRounds, h.CurveLevels, h.CalibrationSamples, h.CalibrationBatchSize, h.RecalibrateBatchNorm) = (3, 4, 8, 4, false);
        }).Run(TestPipeline.Context(model));

        var rounds = Enumerable.Range(1, 3).Select(r => outcome.Metrics[$"roundDistortion/{r}"]).ToArray();
        var best = Array.IndexOf(rounds, rounds.Min()) + 1;
        Assert.That(outcome.Metrics["bestRound"], Is.EqualTo(best));
        // The model leaves the step pruned as the kept round's plan: its measured distortion is that round's.
        Assert.That(outcome.Metrics["distortionMeasured"], Is.EqualTo(rounds.Min()).Within(1e-9 + 1e-6 * rounds.Min()));
        Assert.That(ModelStats.Measure(model).Flops, Is.LessThanOrEqualTo(dense.DenseFlops / 6 * (1 + 1e-9)));
        Assert.That(outcome.Tables.Single(t => t.Title.Contains("allocation rounds")).Rows, Has.Count.EqualTo(3));
    }

    [Test]
    public void Allocation_rounds_with_predicted_curves_are_refused_by_name()
    {
        using var model = TrainedModels.Detector(seed: 15);
        var error = Assert.Throws<ArgumentException>(() => Create("hessian-dp", 2, o => { var h = (HessianDPOptions)o; (h.Curves, h.PlanRounds) = (CurveSource.Predicted, 2); }).Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("PlanRounds=2 needs Curves=Measured"));
    }

    [Test]
    public void Every_method_meets_the_whole_model_flops_budget_within_one_percent(
        [Values("hessian-dp", "uniform-magnitude", "global-magnitude", "lamp")] string method, [Values(2.0, 4.0, 8.0)] double reduction)
    {
        Seeding.Seed(1);
        using var model = new TinyPointModel();
        var dense = ModelStats.Measure(model);
        var outcome = Create(method, reduction).Run(TestPipeline.Context(model));

        var after = ModelStats.Measure(model);
        var target = dense.DenseFlops / reduction;
        Assert.That(Math.Abs(after.Flops - target) / target, Is.LessThan(0.01), $"{method} at {reduction}x: {after.Flops} FLOPs for a target of {target}");
        Assert.That(after.Flops, Is.LessThanOrEqualTo(target * (1 + 1e-9)), "a plan never exceeds its budget");
        Assert.That(outcome.Metrics["flopsAfter"], Is.EqualTo(after.Flops));
        Assert.That(outcome.Metrics["flopsReduction"], Is.EqualTo(dense.DenseFlops / after.Flops).Within(1e-9));
        // The unprunable 500 FLOPs make the prunable-layer ratio the larger one.
        Assert.That(outcome.Metrics["prunableFlopsReduction"], Is.GreaterThan(outcome.Metrics["flopsReduction"]));
    }

    [Test]
    public void A_prunable_layers_budget_counts_only_the_prunable_flops([Values("hessian-dp", "lamp")] string method)
    {
        Seeding.Seed(2);
        using var model = new TinyPointModel(otherFlops: 5000);
        var outcome = Create(method, 4, o => o.BudgetScope = BudgetScope.PrunableLayers).Run(TestPipeline.Context(model));
        Assert.That(outcome.Metrics["prunableFlopsReduction"], Is.EqualTo(4).Within(0.04));
        var after = ModelStats.Measure(model);
        Assert.That(after.PrunableFlops, Is.EqualTo(after.Flops - 5000).Within(1e-6));
    }

    [Test]
    public void Remaining_flops_sets_the_budget_directly()
    {
        Seeding.Seed(3);
        using var model = new TinyPointModel();
        Create("global-magnitude", 1, o => o.RemainingFlops = 20000).Run(TestPipeline.Context(model));
        Assert.That(ModelStats.Measure(model).Flops, Is.EqualTo(20000).Within(200));
    }

    // The classifier (logits) with the default options, and the two-head detector with Ranking=Magnitude: on the detector
    // head with sigmoid scores the default w²·H ranking loses to uniform on this tiny model (see the plugin README).
    [TestCase(true, WithinLayerRanking.HessianSaliency, 4.0, CurveSource.Predicted)]
    [TestCase(true, WithinLayerRanking.HessianSaliency, 8.0, CurveSource.Predicted)]
    [TestCase(false, WithinLayerRanking.Magnitude, 4.0, CurveSource.Predicted)]
    [TestCase(false, WithinLayerRanking.Magnitude, 8.0, CurveSource.Predicted)]
    [TestCase(true, WithinLayerRanking.Magnitude, 4.0, CurveSource.Measured)]
    [TestCase(false, WithinLayerRanking.Magnitude, 4.0, CurveSource.Measured)]
    [TestCase(false, WithinLayerRanking.Magnitude, 8.0, CurveSource.Measured)]
    public void Hessian_dp_distorts_the_outputs_less_than_uniform_magnitude_at_the_same_flops(bool classifier, WithinLayerRanking ranking, double reduction, CurveSource curves)
    {
        var split = new SyntheticPointDataset(0).GetSplit("val");
        var distortion = new Dictionary<string, double>();
        var flops = new Dictionary<string, double>();
        foreach (var method in new[] { "hessian-dp", "uniform-magnitude" })
        {
            using var model = TrainedModels.Detector(seed: 5, classifier: classifier);
            var batches = Enumerable.Range(0, 4).Select(b => model.Collate(Enumerable.Range(b * 8, 8).Select(split.Get).ToList(), CPU)).ToList();
            List<ModelOutput> dense;
            using (no_grad()) dense = batches.Select(model.Forward).ToList();
            Create(method, reduction, o => { if (o is HessianDPOptions h) { h.Ranking = ranking; h.Curves = curves; } }).Run(TestPipeline.Context(model));
            distortion[method] = ValDistortion(model, dense, batches);
            flops[method] = ModelStats.Measure(model).Flops;
            foreach (var b in batches) b.Dispose();
        }
        TestContext.Out.WriteLine($"{reduction}x: hessian-dp {distortion["hessian-dp"]:G4}, uniform {distortion["uniform-magnitude"]:G4}");
        Assert.That(flops["hessian-dp"], Is.EqualTo(flops["uniform-magnitude"]).Within(flops["uniform-magnitude"] * 0.01));
        Assert.That(distortion["hessian-dp"], Is.LessThan(distortion["uniform-magnitude"]));
    }

    [Test]
    public void The_predicted_distortion_ranks_like_the_measured_one_in_the_honesty_check()
    {
        using var model = TrainedModels.Detector(seed: 6);
        var outcome = Create("hessian-dp", 4, o => { var h = (HessianDPOptions)o; h.Curves = CurveSource.Predicted; h.HonestyLayers = 4; }).Run(TestPipeline.Context(model));
        TestContext.Out.WriteLine($"rank correlation {outcome.Metrics["honestyRankCorrelation"]:F3}");
        Assert.That(outcome.Metrics["honestyRankCorrelation"], Is.GreaterThan(0.6));
        Assert.That(outcome.Tables.Single(t => t.Title.Contains("honesty")).Rows, Has.Count.EqualTo(4 * 3));
        foreach (var key in new[] { "calibrationSeconds", "curveSeconds", "dpSeconds", "nonzeroParamsAfter", "distortionMeasured", "distortionPredicted" })
            Assert.That(outcome.Metrics, Does.ContainKey(key));
    }

    [TestCase(DistortionEstimator.FirstOrderSquared, WithinLayerRanking.WeightGradient, AllocationSolver.DynamicProgramming)]
    [TestCase(DistortionEstimator.RankOneFisher, WithinLayerRanking.Magnitude, AllocationSolver.DynamicProgramming)]
    [TestCase(DistortionEstimator.GaussNewtonDiagonal, WithinLayerRanking.HessianSaliency, AllocationSolver.Lagrangian)]
    public void Every_estimator_ranking_and_solver_meets_the_budget(DistortionEstimator estimator, WithinLayerRanking ranking, AllocationSolver solver)
    {
        Seeding.Seed(4);
        using var model = new TinyPointModel();
        var dense = ModelStats.Measure(model).DenseFlops;
        Create("hessian-dp", 4, o =>
        {
            var h = (HessianDPOptions)o;
            h.Curves = CurveSource.Predicted;
            h.Estimator = estimator;
            h.Ranking = ranking;
            h.Solver = solver;
            h.HonestyLayers = 0;
        }).Run(TestPipeline.Context(model));
        Assert.That(ModelStats.Measure(model).Flops, Is.EqualTo(dense / 4).Within(dense / 4 * 0.01));
    }

    [Test]
    public void Uniform_magnitude_gives_every_layer_the_same_sparsity_and_removes_the_smallest_weights()
    {
        Seeding.Seed(5);
        using var model = new TinyPointModel();
        var before = model.PrunableLayers.ToDictionary(l => l.Name, l => l.Weight.detach().abs().clone());
        Create("uniform-magnitude", 4, o => o.CalibrationSamples = 0).Run(TestPipeline.Context(model));
        var sparsities = model.PrunableLayers.Select(l => 1 - l.Weight.count_nonzero().item<long>() / (double)l.WeightCount).ToArray();
        var largest = model.PrunableLayers.Select((l, i) => (l.WeightCount, i)).Max();
        foreach (var (layer, s) in model.PrunableLayers.Zip(sparsities))
        {
            // Each layer removes ceil(s·n) weights: equal sparsity up to one weight of either layer.
            Assert.That(s, Is.EqualTo(sparsities[largest.i]).Within(1.0 / layer.WeightCount + 1.0 / largest.WeightCount), layer.Name);
            // Every removed weight was at most as large as every kept one.
            var kept = layer.Weight.detach().ne(0);
            var magnitude = before[layer.Name];
            Assert.That(magnitude.masked_select(kept.logical_not()).max().item<float>(), Is.LessThanOrEqualTo(magnitude.masked_select(kept).min().item<float>()), layer.Name);
        }
    }

    [Test]
    public void Lamp_score_is_the_squared_weight_over_the_squared_mass_of_it_and_all_larger_weights()
    {
        using var model = new TinyLinearModel();
        var layer = model.PrunableLayers[1];
        using (no_grad()) layer.Weight.copy_(tensor(new float[] { 3, -1, 2, 0.5f, -4, 1.5f, 2.5f, -3.5f }).reshape(2, 4));
        var candidate = new PruningCandidate(layer, 8, 0, 8);
        var scores = MagnitudeBaselines.LampScores(candidate).flatten().data<double>().ToArray();
        // Squares ascending: 0.25, 1, 2.25, 4, 6.25, 9, 12.25, 16 (sum 51); score(|w|=1) = 1 / (51 − 0.25).
        Assert.That(scores[1], Is.EqualTo(1 / 50.75).Within(1e-12));
        Assert.That(scores[3], Is.EqualTo(0.25 / 51).Within(1e-12));
        Assert.That(scores[4], Is.EqualTo(1).Within(1e-12), "the largest weight of a layer scores 1");
        Assert.That(scores[0], Is.EqualTo(9 / (9 + 12.25 + 16)).Within(1e-12));
    }

    [Test]
    public void Keep_dense_patterns_leave_matching_layers_untouched()
    {
        Seeding.Seed(6);
        using var model = new TinyPointModel();
        Create("hessian-dp", 2, o => o.KeepDense = "conv1, heat*").Run(TestPipeline.Context(model));
        bool IsDense(string name) { var l = model.PrunableLayers.Single(x => x.Name == name); return l.Weight.count_nonzero().item<long>() == l.WeightCount; }
        Assert.That(IsDense("conv1") && IsDense("heatmap"), Is.True, "the layers KeepDense names stay dense");
        Assert.That(IsDense("conv2"), Is.False, "the budget then falls on the others");
    }

    [Test]
    public void Weights_removed_by_an_earlier_step_stay_removed()
    {
        Seeding.Seed(7);
        using var model = new TinyPointModel();
        Create("lamp", 2).Run(TestPipeline.Context(model));
        var firstZeros = model.PrunableLayers.ToDictionary(l => l.Name, l => l.Weight.detach().eq(0).clone());
        var dense = ModelStats.Measure(model).DenseFlops;
        Create("hessian-dp", 4).Run(TestPipeline.Context(model));
        foreach (var layer in model.PrunableLayers)
            Assert.That(layer.Weight.detach().masked_select(firstZeros[layer.Name]).count_nonzero().item<long>(), Is.Zero, layer.Name);
        Assert.That(ModelStats.Measure(model).Flops, Is.EqualTo(dense / 4).Within(dense / 4 * 0.01));
    }

    [Test]
    public void The_pruned_model_reloads_from_a_checkpoint_with_identical_outputs_and_counts()
    {
        using var model = TrainedModels.Detector(seed: 8);
        var outcome = Create("hessian-dp", 4).Run(TestPipeline.Context(model));
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("hessiandp-ckpt"), "pruned.ckpt");
        Checkpoint.Save(model, path);

        Seeding.Seed(99);
        using var reloaded = new TinyPointModel();
        Checkpoint.LoadInto(reloaded, path);
        var stats = ModelStats.Measure(reloaded);
        Assert.That(stats.Flops, Is.EqualTo(outcome.Metrics["flopsAfter"]));
        Assert.That(stats.NonzeroParams, Is.EqualTo((long)outcome.Metrics["nonzeroParamsAfter"]));
        using var batch = model.Collate(Enumerable.Range(0, 4).Select(new SyntheticPointDataset(0).GetSplit("val").Get).ToList(), CPU);
        using var _ = no_grad();
        var a = model.Forward(batch);
        var b = reloaded.Forward(batch);
        Assert.That(a["heatmap"].equal(b["heatmap"]).all().item<bool>() && a["boxes"].equal(b["boxes"]).all().item<bool>(), Is.True);
    }

    [Test]
    public void A_mask_built_through_a_permute_saves_and_reloads()
    {
        // OBS selection on a deblock builds its mask as rows over input channels, permuted back to [in, out, kh, kw]: a
        // non-contiguous tensor, which the checkpoint writer refused ("Bytes() called on non-contiguous tensor").
        Seeding.Seed(21);
        using var model = new OneConvModel(3, 4);
        var layer = model.PrunableLayers.Single();
        var keep = rand(3, 3, 3, 4).gt(0.5).permute(3, 2, 0, 1);
        Assert.That(keep.is_contiguous(), Is.False, "the case under test");
        model.Masks.Set(layer, keep);
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("permuted-mask"), "model.ckpt");
        Checkpoint.Save(model, path);

        using var reloaded = new OneConvModel(3, 4);
        Checkpoint.LoadInto(reloaded, path);
        Assert.That(reloaded.Masks.TryGet(layer.Name, out var mask), Is.True);
        Assert.That(mask.equal(keep).all().item<bool>(), Is.True);
        Assert.That(reloaded.PrunableLayers.Single().Weight.detach().equal(layer.Weight.detach()).all().item<bool>(), Is.True);
    }

    [Test]
    public void The_step_leaves_its_plan_table_series_and_file()
    {
        Seeding.Seed(9);
        using var model = new TinyPointModel();
        var context = TestPipeline.Context(model);
        var outcome = Create("global-magnitude", 4).Run(context);
        var plan = context.Get<LayerSparsityPlan>()!;
        Assert.That(plan.Layers.Select(l => l.Layer), Is.EqualTo(model.PrunableLayers.Select(l => l.Name)));
        Assert.That(outcome.Series.Values.Single().Y, Is.EqualTo(plan.Layers.Select(l => l.Sparsity)));
        Assert.That(File.Exists(Path.Combine(context.Services.OutputDirectory, outcome.Files.Single())));
        var total = model.PrunableLayers.Sum(l => l.WeightCount);
        Assert.That(plan.Layers.Sum(l => l.Weights - l.Pruned), Is.EqualTo(model.PrunableLayers.Sum(l => l.Weight.count_nonzero().item<long>())));
        Assert.That(total, Is.GreaterThan(0));
    }
}

public class InputCostTests
{
    [TestCase("lamp", CostBasis.CalibrationInput)]
    [TestCase("hessian-dp", CostBasis.CalibrationInput)]
    [TestCase("hessian-dp", CostBasis.Capacity)]
    public void Input_dependent_layers_are_costed_at_the_calibration_samples_mean_input(string method, CostBasis basis)
    {
        Seeding.Seed(21);
        using var model = new TinyPointModel(inputCosts: true);
        // Points with x > 0 in the 16 calibration samples (the first of train), counted here.
        var split = new SyntheticPointDataset(0).GetSplit("train");
        var active = Enumerable.Range(0, 16).Select(split.Get).Average(s => Enumerable.Range(0, TinyPointModel.Points).Count(p => s.Points[p * 3] > 0));
        Assert.That(active, Is.GreaterThan(4).And.LessThan(28), "the input is neither empty nor full");
        PruningOptions options = method == "hessian-dp" ? new HessianDPOptions() : new PruningOptions();
        options.FlopsReduction = 2;
        options.Costs = basis;
        var outcome = (method == "lamp" ? (ICompressor)new LampCompressor(options) : new HessianDPCompressor((HessianDPOptions)options)).Run(TestPipeline.Context(model));

        // By hand: a conv1d weight costs one MAC per active point (or per point slot at capacity), a linear weight one; 500 other.
        var perPoint = basis == CostBasis.CalibrationInput ? active : TinyPointModel.Points;
        double Flops(bool dense) => 500 + model.PrunableLayers.Sum(l => (dense ? l.WeightCount : l.Weight.count_nonzero().item<long>()) * (l.Kind == "conv1d" ? perPoint : 1.0));
        double CapacityFlops(bool dense) => 500 + model.PrunableLayers.Sum(l => (dense ? l.WeightCount : l.Weight.count_nonzero().item<long>()) * l.FlopsPerWeight);
        Assert.That(outcome.Metrics["denseFlops"], Is.EqualTo(Flops(true)).Within(1e-6));
        Assert.That(outcome.Metrics["flopsAfter"], Is.EqualTo(Flops(false)).Within(1e-6));
        Assert.That(outcome.Metrics["flopsReduction"], Is.EqualTo(2).Within(0.02), "the budget is met in its own count");
        Assert.That(outcome.Metrics["capacityDenseFlops"], Is.EqualTo(CapacityFlops(true)).Within(1e-6));
        Assert.That(outcome.Metrics["capacityFlopsAfter"], Is.EqualTo(CapacityFlops(false)).Within(1e-6));
        Assert.That(outcome.Metrics["costsAtCalibrationInput"], Is.EqualTo(basis == CostBasis.CalibrationInput ? 1 : 0));
        Assert.That(outcome.Metrics["input/activePoints"], Is.EqualTo(active).Within(1e-9));
    }
}
