using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class ReconstructionTests
{
    [Test]
    public void Reconstruction_of_a_linear_layer_is_the_damped_least_squares_fit_of_the_dense_outputs_on_the_kept_inputs()
    {
        Seeding.Seed(31);
        using var model = new OneLinearModel(6, 3);
        var layer = model.PrunableLayers.Single();
        var dense = layer.Weight.detach().clone();
        // Correlated inputs: a masked weight's share can be carried by the others.
        var mix = randn(6, 6) * 0.5 + eye(6);
        var x = randn(64, 6).matmul(mix);
        var batches = new[] { x.slice(0, 0, 32, 1), x.slice(0, 32, 64, 1) }.Select(b => new ModelBatch([], new Dictionary<string, Tensor> { ["x"] = b })).ToList();
        var keep = tensor(new[] { true, false, true, false, true, true, false, true, true, false, false, true, true, true, false, true, false, false }).reshape(3, 6);
        model.Masks.Set(layer, keep);
        var masked = layer.Weight.detach().clone();

        const double damping = 1e-3;
        var result = WeightReconstruction.Run(model, [layer], new Dictionary<string, Tensor> { [layer.Name] = dense }, batches, damping, ReconstructionSelection.CompressorMasks, NullProgressReporter.Instance, "test");
        Assert.That(result.Reconstructed, Is.EqualTo(1));

        // Closed form, row by row: w_S = (X_Sᵀ X_S + λI)⁻¹ X_Sᵀ X w_dense, λ = damping · mean diag(XᵀX).
        var x64 = x.to_type(ScalarType.Float64);
        var gram = x64.t().matmul(x64);
        var lambda = damping * gram.diagonal().mean().item<double>();
        var w = layer.Weight.detach().to_type(ScalarType.Float64);
        for (var r = 0; r < 3; r++)
        {
            var s = keep[r].nonzero().flatten();
            var xs = x64.index_select(1, s);
            var target = x64.matmul(dense[r].to_type(ScalarType.Float64));
            var expected = linalg.solve(xs.t().matmul(xs) + eye(s.shape[0], dtype: ScalarType.Float64) * lambda, xs.t().matmul(target));
            Assert.That((w[r].index_select(0, s) - expected).abs().max().item<double>(), Is.LessThan(1e-5), $"row {r}");
            Assert.That(w[r].masked_select(keep[r].logical_not()).count_nonzero().item<long>(), Is.Zero, "masked weights stay zero");
        }

        // And the layer's outputs move towards the dense ones (bias unchanged in both).
        double Error(Tensor weight) => (x.matmul(weight.t()) - x.matmul(dense.t())).square().sum().item<float>();
        Assert.That(Error(layer.Weight.detach()), Is.LessThan(Error(masked) * 0.9));
    }

    [Test]
    public void A_layer_alone_refit_is_the_least_squares_fit_of_its_dense_outputs_for_any_zero_pattern()
    {
        Seeding.Seed(32);
        using var model = new OneLinearModel(6, 3);
        var layer = model.PrunableLayers.Single();
        var dense = layer.Weight.detach().clone();
        var x = randn(64, 6).matmul(randn(6, 6) * 0.5 + eye(6));
        var batches = new[] { new ModelBatch([], new Dictionary<string, Tensor> { ["x"] = x }) };
        const double damping = 1e-6;
        using var refit = WeightReconstruction.LayerAloneRefit(model, layer, batches, damping)!;
        Assert.That(refit, Is.Not.Null);

        var pruned = dense.clone();
        pruned.view(-1).index_fill_(0, tensor(new long[] { 1, 3, 8, 9, 10, 14, 16 }), 0);
        var w = refit.Apply(pruned).to_type(ScalarType.Float64);

        var x64 = x.to_type(ScalarType.Float64);
        for (var r = 0; r < 3; r++)
        {
            var s = pruned[r].ne(0).nonzero().flatten();
            // Least squares of the dense row's outputs on the kept inputs, by QR here (not the normal equations).
            var expected = linalg.lstsq(x64.index_select(1, s), x64.matmul(dense[r].to_type(ScalarType.Float64)).unsqueeze(1)).Solution.squeeze(1);
            Assert.That((w[r].index_select(0, s) - expected).abs().max().item<double>(), Is.LessThan(1e-4), $"row {r}");
            Assert.That(w[r].masked_select(pruned[r].eq(0)).count_nonzero().item<long>(), Is.Zero, "pruned weights stay zero");
        }
        Assert.That(layer.Weight.equal(dense).all().item<bool>(), Is.True, "the layer itself is left as it was");
    }

    [TestCase("conv1d")]
    [TestCase("conv2d")]
    [TestCase("deconv2d")]
    public void Unfolded_input_rows_times_the_weight_rows_give_the_layers_output(string kind)
    {
        Seeding.Seed(32);
        nn.Module<Tensor, Tensor> layer = kind switch
        {
            "conv1d" => nn.Conv1d(3, 4, 3, stride: 2, padding: 1, bias: false),
            "conv2d" => nn.Conv2d(3, 4, 3, stride: 2, padding: 1, bias: false),
            _ => nn.ConvTranspose2d(3, 4, 2, stride: 2, bias: false),
        };
        var x = kind == "conv1d" ? randn(2, 3, 9) : randn(2, 3, 5, 6);
        using var _ = no_grad();
        var y = layer.forward(x);
        var weight = layer.parameters().First();
        var rows = WeightReconstruction.Rows(layer, x);
        Tensor expected;
        if (kind == "deconv2d")
        {
            // Row (o, a, b) of the weight over input channels, at each input cell: output cell (2i + a, 2j + b).
            var w = weight.permute(1, 2, 3, 0).reshape(-1, 3);
            var cells = rows.matmul(w.t()).reshape(2, 5, 6, 4, 2, 2);             // [B, i, j, o, a, b]
            expected = cells.permute(0, 3, 1, 4, 2, 5).reshape(2, 4, 10, 12);
        }
        else
        {
            var out4 = rows.matmul(weight.reshape(4, -1).t());                    // [B·L, out]
            expected = out4.reshape(2, -1, 4).transpose(1, 2).reshape(y.shape);
        }
        Assert.That((expected - y).abs().max().item<float>(), Is.LessThan(1e-5));
    }

    [Test]
    public void Obs_selection_removes_the_weights_whose_inputs_matter_least_not_the_smallest_weights()
    {
        // H = diag(100, 1, 1, 1): [H⁻¹]ⱼⱼ = 1/hⱼ, so the saliency is w²·hⱼ: row 0 [100, 4, 9, 0], row 1 [0.25·100, 16, 1, 0.01].
        var w = tensor(new double[] { 1, 2, 3, 0, 0.5, 4, 1, 0.1 }).reshape(2, 4);
        var h = diag(tensor(new double[] { 100, 1, 1, 1 }));
        var keep = tensor(new[] { true, true, false, false, true, false, true, true }).reshape(2, 4);   // 3 removed
        var chosen = WeightReconstruction.ObsKeep(w, h, keep);
        // Removed: the zero weight (0, 3) first, then saliency 0.01 at (1, 3) and 1 at (1, 2); magnitude would have removed
        // (0, 3), (1, 3) and (1, 0), whose input carries a hundred times the energy.
        Assert.That(chosen.to_type(ScalarType.Int32).data<int>().ToArray(), Is.EqualTo(new[] { 1, 1, 1, 0, 1, 1, 0, 0 }));
    }

    [Test]
    public void Sequential_obs_with_uncorrelated_inputs_removes_the_lowest_w2_h_like_one_shot_obs()
    {
        // H diagonal: U = diag(1/√hⱼ) has no off-diagonal update, so the saliency is w²·hⱼ throughout: (1, 3), (1, 2), (0, 3) go.
        var w = tensor(new double[] { 1, 2, 3, 0.2, 0.5, 4, 1, 0.1 }).reshape(2, 4);
        var h = diag(tensor(new double[] { 100, 1, 1, 1 }));
        var keep = tensor(new[] { true, true, false, false, true, false, true, true }).reshape(2, 4);   // 3 removed
        var chosen = WeightReconstruction.SequentialObsKeep(w, h, keep, zeros_like(w, dtype: ScalarType.Bool));
        Assert.That(chosen.to_type(ScalarType.Int32).data<int>().ToArray(), Is.EqualTo(new[] { 1, 1, 1, 0, 1, 1, 0, 0 }));
        Assert.That(chosen.to_type(ScalarType.Int32).data<int>().ToArray(), Is.EqualTo(WeightReconstruction.ObsKeep(w, h, keep).to_type(ScalarType.Int32).data<int>().ToArray()));
    }

    [Test]
    public void Sequential_obs_keeps_one_of_two_duplicated_inputs_where_one_shot_obs_removes_both([Values(1, 128)] int blockColumns)
    {
        // x₀ = x₁ (up to noise 1e-3), x₂ independent, all of unit variance; w = [1, 1, 0.5]; two of three weights go. One-shot
        // OBS sees each duplicate as free to remove (the other one compensates) and removes both: error ‖2x₀‖² = 4 per sample.
        // The optimum keeps one duplicate at weight 2 and removes x₂: error 0.25. Sequential updates find it.
        var generator = new Generator(7);
        var x0 = randn(4000, 1, dtype: ScalarType.Float64, generator: generator);
        var x = cat([x0, x0 + 1e-3 * randn(4000, 1, dtype: ScalarType.Float64, generator: generator), randn(4000, 1, dtype: ScalarType.Float64, generator: generator)], 1);
        var h = x.t().matmul(x) / 4000 + 1e-6 * eye(3, dtype: ScalarType.Float64);
        var w = tensor(new double[] { 1, 1, 0.5 }).reshape(1, 3);
        var keep = tensor(new[] { true, false, false }).reshape(1, 3);
        var oneShot = WeightReconstruction.ObsKeep(w, h, keep).to_type(ScalarType.Int32).data<int>().ToArray();
        var sequential = WeightReconstruction.SequentialObsKeep(w, h, keep, zeros_like(w, dtype: ScalarType.Bool), blockColumns).to_type(ScalarType.Int32).data<int>().ToArray();
        Assert.That(oneShot, Is.EqualTo(new[] { 0, 0, 1 }));
        Assert.That(sequential[2], Is.Zero, "x₂ removed");
        Assert.That(sequential[0] + sequential[1], Is.EqualTo(1), "exactly one duplicate kept");
    }

    [Test]
    public void Sequential_obs_removes_weights_that_were_already_zero_first()
    {
        var w = tensor(new double[] { 5, 0, 3, 4, 0.1, 2 }).reshape(2, 3);
        var h = eye(3, dtype: ScalarType.Float64);
        var keep = tensor(new[] { true, false, true, true, true, false }).reshape(2, 3);   // 2 removed
        var chosen = WeightReconstruction.SequentialObsKeep(w, h, keep, w.eq(0)).to_type(ScalarType.Int32).data<int>().ToArray();
        Assert.That(chosen, Is.EqualTo(new[] { 1, 0, 1, 1, 0, 1 }), "the zero at (0, 1), then the smallest, 0.1");
    }

    [Test]
    public void Obs_selection_keeps_the_compressors_count_per_layer_and_distorts_the_outputs_less()
    {
        var distortion = new Dictionary<ReconstructionSelection, double>();
        var kept = new Dictionary<ReconstructionSelection, long[]>();
        foreach (var selection in new[] { ReconstructionSelection.CompressorMasks, ReconstructionSelection.ObsSaliency, ReconstructionSelection.ObsSequential })
        {
            using var model = TrainedModels.Detector(seed: 14);
            var outcome = new LampCompressor(new PruningOptions { FlopsReduction = 4, Reconstruct = true, ReconstructionSelection = selection }).Run(TestPipeline.Context(model));
            distortion[selection] = outcome.Metrics["distortionMeasured"];
            kept[selection] = model.PrunableLayers.Select(l => model.Masks.TryGet(l.Name, out var m) ? m.count_nonzero().item<long>() : l.Weight.numel()).ToArray();
            foreach (var l in model.PrunableLayers)
                Assert.That(l.Weight.detach().masked_select(model.Masks.TryGet(l.Name, out var m) ? m.logical_not() : zeros_like(l.Weight, dtype: ScalarType.Bool)).count_nonzero().item<long>(),
                    Is.Zero, $"{l.Name}: weights outside the mask stay zero");
        }
        TestContext.Out.WriteLine($"lamp 4x + reconstruction: distortion {distortion[ReconstructionSelection.CompressorMasks]:G4} with lamp's masks, " +
                                  $"{distortion[ReconstructionSelection.ObsSaliency]:G4} with one-shot OBS selection, {distortion[ReconstructionSelection.ObsSequential]:G4} with sequential OBS");
        foreach (var selection in new[] { ReconstructionSelection.ObsSaliency, ReconstructionSelection.ObsSequential })
        {
            Assert.That(kept[selection], Is.EqualTo(kept[ReconstructionSelection.CompressorMasks]), $"{selection}: weights kept per layer");
            Assert.That(distortion[selection], Is.LessThan(distortion[ReconstructionSelection.CompressorMasks]), selection.ToString());
        }
    }

    [Test]
    public void Cell_weights_make_reconstruction_the_weighted_least_squares_fit_and_favour_the_heavy_cells()
    {
        Seeding.Seed(33);
        using var model = new OneConvModel(3, 2);
        var layer = model.PrunableLayers.Single();
        var dense = layer.Weight.detach().clone();
        // Two regions whose inputs relate differently: no sparse refit reproduces both, so the weights decide which it favours.
        var x = randn(2, 3, 6, 6);
        x[.., 1, ..3, ..].copy_(x[.., 0, ..3, ..] * 2);
        x[.., 1, 3.., ..].copy_(-x[.., 2, 3.., ..]);
        var cells = ones(2, 1, 6, 6);
        cells[.., .., ..3, ..] = 50;                                    // the top half is "foreground"
        var batches = new[] { new ModelBatch([], new Dictionary<string, Tensor> { ["x"] = x }) };
        var keep = ones_like(dense, dtype: ScalarType.Bool);
        keep[.., 1] = false;                                            // every output loses input channel 1
        const double damping = 1e-3;

        Tensor Refit(IReadOnlyList<Tensor>? weights)
        {
            layer.Weight.detach().copy_(dense);
            model.Masks.Set(layer, keep);
            WeightReconstruction.Run(model, [layer], new Dictionary<string, Tensor> { [layer.Name] = dense }, batches, damping,
                ReconstructionSelection.CompressorMasks, NullProgressReporter.Instance, "test", weights);
            return layer.Weight.detach().clone();
        }
        var weighted = Refit([cells]);
        var plain = Refit(null);

        // Closed form: w_S = (X_Sᵀ Ω X_S + λI)⁻¹ X_Sᵀ Ω X w_dense, Ω the rows' weights, λ = damping · mean diag(Xᵀ Ω X).
        var conv = (nn.Module<Tensor, Tensor>)model.Module.named_children().Single().module;
        var rows = WeightReconstruction.Rows(conv, x).to_type(ScalarType.Float64);
        var omega = cells.reshape(-1).to_type(ScalarType.Float64);
        var gram = rows.t().matmul(rows * omega.unsqueeze(1));
        var lambda = damping * gram.diagonal().mean().item<double>();
        var keepRows = keep.reshape(2, -1);
        for (var r = 0; r < 2; r++)
        {
            var s = keepRows[r].nonzero().flatten();
            var xs = rows.index_select(1, s);
            var target = rows.matmul(dense.reshape(2, -1)[r].to_type(ScalarType.Float64));
            var expected = linalg.solve(xs.t().matmul(xs * omega.unsqueeze(1)) + eye(s.shape[0], dtype: ScalarType.Float64) * lambda, xs.t().matmul(target * omega));
            var got = weighted.reshape(2, -1)[r].to_type(ScalarType.Float64);
            Assert.That((got.index_select(0, s) - expected).abs().max().item<double>(), Is.LessThan(1e-4), $"row {r}");
        }

        // The curves' refit of this layer alone (CurveReconstruction) weighs its rows the same way: on a one-layer model it is
        // the final refit exactly. It reads the dense weights from the layer, as the curves find it.
        layer.Weight.detach().copy_(dense);
        using (var alone = WeightReconstruction.LayerAloneRefit(model, layer, batches, damping, [cells])!)
        {
            var masked = dense * keep;
            Assert.That((alone.Apply(masked) - weighted).abs().max().item<float>(), Is.LessThan(1e-5), "layer-alone refit, weighted");
            using var unweighted = WeightReconstruction.LayerAloneRefit(model, layer, batches, damping)!;
            Assert.That((unweighted.Apply(masked) - plain).abs().max().item<float>(), Is.LessThan(1e-5), "layer-alone refit, plain");
        }

        // The weighted refit reproduces the heavy top half better than the plain one, and the light bottom half worse.
        using var _ = no_grad();
        var reference = nn.functional.conv2d(x, dense, padding: [1, 1]);
        double Error(Tensor w, int from, int to) => (nn.functional.conv2d(x, w, padding: [1, 1]) - reference)[.., .., from..to, ..].square().sum().item<float>();
        Assert.That(Error(weighted, 0, 3), Is.LessThan(Error(plain, 0, 3) * 0.5));
        Assert.That(Error(weighted, 3, 6), Is.GreaterThan(Error(plain, 3, 6)));
    }

    [Test]
    public void Cell_weights_follow_each_layer_onto_its_own_grid()
    {
        var cells = ones(1, 1, 4, 4);
        cells[0, 0, 1, 2] = 5;
        var coarse = WeightReconstruction.RowWeights(nn.Conv2d(3, 4, 3, stride: 2, padding: 1), zeros(1, 3, 4, 4), cells)!;
        Assert.That(coarse.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 5, 1, 1 }), "a 2x2 output grid takes the largest weight it covers");
        var deblock = WeightReconstruction.RowWeights(nn.ConvTranspose2d(3, 4, 2, stride: 2), zeros(1, 3, 2, 2), cells)!;
        Assert.That(deblock.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 5, 1, 1 }), "a deblock's rows are its input cells");
        var fine = WeightReconstruction.RowWeights(nn.Conv2d(3, 4, 3, padding: 1), zeros(1, 3, 8, 8), cells)!.reshape(8, 8);
        Assert.That(fine.eq(5).nonzero().data<long>().ToArray(), Is.EqualTo(new long[] { 2, 4, 2, 5, 3, 4, 3, 5 }), "a finer grid repeats each cell");
        Assert.That(WeightReconstruction.RowWeights(nn.Linear(3, 4), zeros(1, 3), cells), Is.Null, "a linear layer's rows are no cells");
        Assert.Throws<ArgumentException>(() => WeightReconstruction.RowWeights(nn.Conv2d(3, 4, 3, padding: 1), zeros(2, 3, 4, 4), cells), "one map per sample");
    }

    [Test]
    public void Lamp_with_reconstruction_distorts_the_outputs_less_than_lamp_alone()
    {
        var distortion = new Dictionary<bool, double>();
        foreach (var reconstruct in new[] { false, true })
        {
            using var model = TrainedModels.Detector(seed: 14);
            var outcome = new LampCompressor(new PruningOptions { FlopsReduction = 4, Reconstruct = reconstruct }).Run(TestPipeline.Context(model));
            distortion[reconstruct] = outcome.Metrics["distortionMeasured"];
            // Both kinds are reported whichever drives the allocation; the default drives it with Raw.
            Assert.That(outcome.Metrics["distortionRaw"], Is.EqualTo(outcome.Metrics["distortionMeasured"]));
            Assert.That(outcome.Metrics["distortionDetectionAware"], Is.GreaterThan(0));
            if (reconstruct)
            {
                Assert.That(outcome.Metrics.ContainsKey("batchnormRecalibratedLayers"), Is.False, "re-estimating statistics would undo the refit");
                Assert.That(outcome.Notes, Has.Some.Contains("batch-norm statistics kept"));
                Assert.That(outcome.Metrics["reconstructedLayers"], Is.EqualTo(model.PrunableLayers.Count));
                Assert.That(outcome.Metrics["flopsReduction"], Is.EqualTo(4).Within(0.04), "the masks stay as chosen");
            }
        }
        TestContext.Out.WriteLine($"lamp 4x: {distortion[false]:G4} without, {distortion[true]:G4} with reconstruction");
        Assert.That(distortion[true], Is.LessThan(distortion[false]));
    }
}

public class HookTests
{
    // Reconstruction sees layer inputs through pre-hooks; models built from Sequential blocks rely on this.
    [Test]
    public void A_pre_hook_on_a_layer_inside_a_sequential_fires_when_the_sequential_runs()
    {
        var second = nn.Linear(4, 2);
        var seq = nn.Sequential(("first", nn.Linear(3, 4)), ("second", second));
        var fired = 0;
        var handle = second.register_forward_pre_hook((_, x) => { fired++; return null!; });
        using (no_grad()) seq.call(randn(5, 3));
        handle.remove();
        Assert.That(fired, Is.EqualTo(1));
    }
}
