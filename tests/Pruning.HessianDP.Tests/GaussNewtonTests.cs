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
    public void Curves_are_cumulative_w_squared_h_along_the_removal_order()
    {
        using var model = new TinyLinearModel();
        var layer = model.PrunableLayers[1];
        using (no_grad()) layer.Weight.copy_(tensor(new float[] { 1, -2, 3, 0, 0.5f, 1, 1, 1 }).reshape(2, 4));
        var candidate = new PruningCandidate(layer, 8, 1, 8);
        var h = tensor(new double[] { 1, 1, 0.1, 5, 4, 2, 3, 0 }).reshape(2, 4);
        using var estimate = new HessianEstimate { Candidates = [candidate], Diagonal = [h] };
        var curve = DistortionCurves.Build(estimate, new HessianDPOptions()).Single();
        // w²H: 1, 4, 0.9, (already zero), 1, 2, 3, 0 → order: zero weight, 0, 0.9, 1, 1, 2, 3, 4.
        Assert.That(curve.Prefix, Is.EqualTo(new[] { 0, 0, 0, 0.9, 1.9, 2.9, 4.9, 7.9, 11.9 }).Within(1e-6));
        Assert.That(curve.Order[0].item<long>(), Is.EqualTo(3), "the already zero weight goes first");
    }
}
