using Platform.Abstractions.Kit;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class GaussNewtonTests
{
    [Test]
    public void Random_projection_estimate_matches_the_exact_gauss_newton_diagonal()
    {
        Seeding.Seed(0);
        using var model = new TinyLinearModel();
        var options = new HessianDPOptions { CalibrationSamples = 8, CalibrationBatchSize = 4 };
        var context = TestPipeline.Context(model);
        var candidates = FlopsBudget.Resolve(model, options, "test").Candidates;
        using var calibration = CalibrationSet.Load(context, model, options, "test");

        // Exact: D ≈ Σ_batches (1/B) Σ_k (1/M)(∂f_k/∂w · δw)², so H_ii = mean over batches of Σ_k (∂f_k/∂w_i)² / M,
        // one backward pass per output element k.
        var exact = candidates.Select(c => zeros(c.Layer.Weight.shape, ScalarType.Float64)).ToArray();
        foreach (var batch in calibration.Batches)
        {
            var outputs = model.Forward(batch)["logits"];
            var m = outputs.numel();
            for (var k = 0; k < m; k++)
            {
                model.Module.zero_grad();
                outputs.flatten()[k].backward(retain_graph: true);
                for (var i = 0; i < candidates.Count; i++)
                    exact[i].add_(candidates[i].Layer.Weight.grad!.to_type(ScalarType.Float64).square() / m);
            }
        }
        foreach (var e in exact) e.div_(calibration.Batches.Count);

        var estimate = HessianEstimate.GaussNewtonDiagonal(model, calibration, candidates, projections: 4000, seed: 1, NullProgressReporter.Instance, "test");
        for (var i = 0; i < candidates.Count; i++)
        {
            var relative = ((estimate[i] - exact[i]).norm() / exact[i].norm()).item<double>();
            TestContext.Out.WriteLine($"{candidates[i].Name}: relative error {relative:F4}");
            Assert.That(relative, Is.LessThan(0.08), candidates[i].Name);
            Assert.That(estimate[i].allclose(exact[i], rtol: 0.25, atol: 1e-6), Is.True, candidates[i].Name);
        }
    }

    [Test]
    public void A_batch_with_non_finite_gradients_is_recomputed_with_the_same_projections_and_a_persistent_fault_is_reported()
    {
        Tensor[] Estimate(int faults)
        {
            Seeding.Seed(0);
            using var model = new TinyLinearModel();
            var options = new HessianDPOptions { CalibrationSamples = 8, CalibrationBatchSize = 4 };
            var candidates = FlopsBudget.Resolve(model, options, "test").Candidates;
            using var calibration = CalibrationSet.Load(TestPipeline.Context(model), model, options, "test");
            model.NonFiniteGradientForwards = faults;
            return HessianEstimate.GaussNewtonDiagonal(model, calibration, candidates, projections: 8, seed: 1, NullProgressReporter.Instance, "test");
        }
        var clean = Estimate(0);
        var recovered = Estimate(2);   // the first batch's first two computations are faulty, the third is not
        for (var i = 0; i < clean.Length; i++)
            Assert.That(recovered[i].equal(clean[i]).all().item<bool>(), Is.True, $"layer {i}: the same estimate as without the fault");

        var persistent = Estimate(3);   // all three computations of the first batch
        Assert.That(persistent[0].isfinite().all().item<bool>(), Is.False, "after Trainer.StepAttempts computations the fault stays visible, for Estimate's check to report");
    }

    [Test]
    public void Curves_are_cumulative_w_squared_h_along_the_removal_order()
    {
        using var model = new TinyLinearModel();
        var layer = model.PrunableLayers[1];
        using (no_grad()) layer.Weight.copy_(tensor(new float[] { 1, -2, 3, 0, 0.5f, 1, 1, 1 }).reshape(2, 4));
        var candidate = new PruningCandidate(layer, 8, 1, 8);
        var h = tensor(new double[] { 1, 1, 0.1, 5, 4, 2, 3, 0 }).reshape(2, 4);
        using var estimate = new HessianEstimate { Candidates = [candidate], Diagonal = [h] };
        var curve = DistortionCurves.Build(estimate, new HessianDPOptions { Ranking = WithinLayerRanking.HessianSaliency }).Single();
        // w²H: 1, 4, 0.9, (already zero), 1, 2, 3, 0 → order: zero weight, 0, 0.9, 1, 1, 2, 3, 4.
        Assert.That(curve.Prefix, Is.EqualTo(new[] { 0, 0, 0, 0.9, 1.9, 2.9, 4.9, 7.9, 11.9 }).Within(1e-6));
        Assert.That(curve.Order[0].item<long>(), Is.EqualTo(3), "the already zero weight goes first");
    }

    [Test]
    public void Magnitude_ranking_removes_small_weights_first_and_reads_their_w_squared_h()
    {
        using var model = new TinyLinearModel();
        var layer = model.PrunableLayers[0];
        using (no_grad()) layer.Weight.copy_(tensor(Enumerable.Range(1, 12).Select(i => (float)(13 - i)).ToArray()).reshape(4, 3));
        var candidate = new PruningCandidate(layer, 12, 0, 12);
        using var estimate = new HessianEstimate { Candidates = [candidate], Diagonal = [full(4, 3, 0.5, ScalarType.Float64)] };
        var curve = DistortionCurves.Build(estimate, new HessianDPOptions { Ranking = WithinLayerRanking.Magnitude }).Single();
        // Weights 12..1: the smallest (1, at flat index 11) goes first; D(2) = 0.5·(1² + 2²).
        Assert.That(curve.Order[0].item<long>(), Is.EqualTo(11));
        Assert.That(curve.At(2), Is.EqualTo(2.5).Within(1e-12));
        Assert.That(curve.At(12), Is.EqualTo(0.5 * Enumerable.Range(1, 12).Sum(i => i * i)).Within(1e-9));
    }

    [Test]
    public void Budget_fill_restores_the_removed_weights_with_the_most_distortion_per_flop_while_they_fit()
    {
        using var a = new TinyLinearModel();
        // Two 8-weight curves at 1 FLOP a weight (the tiny linear model's cost), every weight removed.
        var layer = a.PrunableLayers[1];
        var cheap = new PruningCandidate(layer, 8, 0, 8);
        // Curve prefixes (removing n weights): restoring the n-th weight of `cheap` lowers D by Prefix[n] − Prefix[n−1].
        var first = new LayerDistortionCurve { Candidate = cheap, Prefix = [0, 1, 2, 3, 4, 5, 6, 7, 8], Order = zeros(1), Scores = zeros(1) };
        var second = new LayerDistortionCurve { Candidate = cheap, Prefix = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 20], Order = zeros(1), Scores = zeros(1) };
        // Both fully pruned (0 FLOPs); budget 4 FLOPs = 4 restorations. Gains: second's last weight 16.5, then first's 1, 1, 1.
        var result = SparsityAllocation.FillBudget([first, second], [8, 8], budget: 4);
        Assert.That(result, Is.EqualTo(new long[] { 5, 7 }));
    }
}
