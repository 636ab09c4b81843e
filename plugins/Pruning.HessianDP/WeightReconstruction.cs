using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// Issue 10 §4 (OBS / SparseGPT style, beyond DM3D): after the masks are chosen, each pruned layer in forward
/// order refits its surviving weights by least squares so that, on its inputs X in the already-pruned network,
/// it reproduces the dense layer's outputs on the dense network's inputs X_d. Per output row r with surviving
/// inputs S: w_S = (X_Sᵀ X_S + λI)⁻¹ X_Sᵀ X_d w_r,dense, λ = Damping · mean diag(XᵀX). Masked weights stay zero.
/// Inputs are seen through forward pre-hooks, so a layer is reconstructed only if the model calls it with
/// <c>call</c> (hooks do not run on <c>forward</c>); the others are counted as skipped. With
/// <see cref="ReconstructionSelection.ObsSaliency"/> or <see cref="ReconstructionSelection.ObsSequential"/> a layer first
/// re-chooses which weights survive (same count).
/// </summary>
internal static class WeightReconstruction
{
    /// <summary>Thrown by the capture hook to stop the forward pass once the layer's input is held.</summary>
    private sealed class InputCaptured : Exception;

    public sealed record Result(int Reconstructed, IReadOnlyList<string> Skipped)
    {
        /// <summary>What every compressor reports of a reconstruction: its time, the layers refitted, the layers skipped and why.</summary>
        public void Report(Platform.Abstractions.Pipeline.StepOutcome outcome, string step, double seconds)
        {
            outcome.Metrics["reconstructionSeconds"] = seconds;
            outcome.Metrics["reconstructedLayers"] = Reconstructed;
            if (Skipped.Count > 0)
                outcome.Notes.Add($"{step}: reconstruction skipped {Skipped.Count} layers whose inputs it cannot see or whose kind it does not solve: {string.Join(", ", Skipped)}.");
        }
    }

    /// <param name="cellWeights">Per batch, [B, 1, H, W]: how much each spatial cell's rows weigh in the fit (see
    /// <see cref="RowWeights"/>); null weighs every row alike.</param>
    public static Result Run(IModel model, IReadOnlyList<PrunableLayer> layers, IReadOnlyDictionary<string, Tensor> dense,
        IReadOnlyList<ModelBatch> batches, double damping, ReconstructionSelection selection, IProgressReporter progress, string step,
        IReadOnlyList<Tensor>? cellWeights = null)
    {
        var modules = model.Module.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var order = ForwardOrder(model, layers, modules, batches[0]);
        var skipped = layers.Where(l => !order.Contains(l)).Select(l => l.Name).ToList();
        var done = 0;
        model.Module.eval();
        using var task = progress.Start($"{step}: weight reconstruction", order.Count);
        foreach (var layer in order)
        {
            var module = (nn.Module<Tensor, Tensor>)modules[layer.Name];
            if (!Supported(module)) { skipped.Add(layer.Name); task.Advance(); continue; }
            var denseSide = new DenseLayer(module, batch => CaptureInput(model, module, batch, dense), dense[layer.Name]);
            Reconstruct(model, layer, module, denseSide, batches, damping, selection, cellWeights);
            done++;
            task.Advance(1, layer.Name);
        }
        return new Result(done, skipped);
    }

    /// <summary>The layers in the order a forward pass reaches them; layers whose input no hook sees are left out.</summary>
    private static List<PrunableLayer> ForwardOrder(IModel model, IReadOnlyList<PrunableLayer> layers, Dictionary<string, nn.Module> modules, ModelBatch batch)
    {
        var seen = new List<PrunableLayer>();
        var removers = new List<Action>();
        foreach (var layer in layers)
        {
            if (modules[layer.Name] is not nn.Module<Tensor, Tensor> m) continue;
            var handle = m.register_forward_pre_hook((_, x) => { if (!seen.Contains(layer)) seen.Add(layer); return null!; });
            removers.Add(() => handle.remove());
        }
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            model.Forward(batch);
        }
        finally
        {
            foreach (var remove in removers) remove();
        }
        return seen;
    }

    private static bool Supported(nn.Module<Tensor, Tensor> module) => module switch
    {
        Linear => true,
        Convolution c when c.groups == 1 && c.padding is not null && c.padding_mode == PaddingModes.Zeros =>
            // A transposed conv with stride = kernel (an upsampling deblock) maps each input cell to its own output block.
            !c.transposed || (c.stride.SequenceEqual(c.kernel_size) && c.padding.All(p => p == 0) && c.dilation.All(d => d == 1) && c.output_padding.All(p => p == 0)),
        _ => false,
    };

    /// <summary>The layer's input rows [N, d] that one weight row multiplies: unfolded patches for a conv, channel vectors for a deblock.</summary>
    internal static Tensor Rows(nn.Module<Tensor, Tensor> module, Tensor x)
    {
        switch (module)
        {
            case Linear l:
                return x.reshape(-1, x.shape[^1]);
            case Convolution { transposed: true } c:
                return x.permute(0, 2, 3, 1).reshape(-1, c.in_channels);
            case Convolution c when c.kernel_size.Length == 1:
                return nn.functional.unfold(x.unsqueeze(2), (1, c.kernel_size[0]), (1, c.dilation[0]), (0, c.padding![0]), (1, c.stride[0])).transpose(1, 2).reshape(-1, c.in_channels * c.kernel_size[0]);
            case Convolution c when c.kernel_size.Length == 2:
                return nn.functional.unfold(x, (c.kernel_size[0], c.kernel_size[1]), (c.dilation[0], c.dilation[1]), (c.padding![0], c.padding[1]), (c.stride[0], c.stride[1]))
                    .transpose(1, 2).reshape(-1, c.in_channels * c.kernel_size[0] * c.kernel_size[1]);
            default:
                throw new NotSupportedException(module.GetType().Name);
        }
    }

    /// <summary>
    /// The weight of each of <see cref="Rows"/>' rows, [N], from per-cell weights <paramref name="cells"/> [B, 1, h, w]
    /// taken to the grid the rows live on: a conv's output cells, a deblock's input cells. A coarser grid takes the largest
    /// weight of the cells it covers, a finer one repeats them. Null for layers whose rows are not cells of a 2-D map
    /// (linear layers, 1-D convs), which keep weight 1.
    /// </summary>
    internal static Tensor? RowWeights(nn.Module<Tensor, Tensor> module, Tensor input, Tensor cells)
    {
        if (module is not Convolution { kernel_size.Length: 2 } c || input.dim() != 4) return null;
        if (cells.dim() != 4 || cells.shape[0] != input.shape[0] || cells.shape[1] != 1)
            throw new ArgumentException($"Cell weights of shape [{string.Join(", ", cells.shape)}] do not fit a batch of {input.shape[0]} maps ([B, 1, H, W] expected).");
        long OutputSize(int axis) => c.transposed
            ? input.shape[2 + axis]
            : (input.shape[2 + axis] + 2 * c.padding![axis] - c.dilation[axis] * (c.kernel_size[axis] - 1) - 1) / c.stride[axis] + 1;
        var (h, w) = (OutputSize(0), OutputSize(1));
        var grid = (cells.shape[2], cells.shape[3]) == (h, w) ? cells
            : h <= cells.shape[2] && w <= cells.shape[3] ? nn.functional.adaptive_max_pool2d(cells, [h, w])
            : nn.functional.interpolate(cells, [h, w], mode: InterpolationMode.Nearest);
        return grid.reshape(-1).to(input.device);
    }

    /// <summary>
    /// Weighted least squares: scaling a row of both sides by √w weighs its squared error by w. The [N, 1] factors for
    /// <see cref="Rows"/>' rows from <paramref name="cells"/> (<see cref="RowWeights"/>); null when every row weighs alike.
    /// </summary>
    private static Tensor? RowScale(nn.Module<Tensor, Tensor> module, Tensor input, Tensor? cells, ScalarType dtype) =>
        cells is not null && RowWeights(module, input, cells) is { } weights ? weights.sqrt().unsqueeze(1).to(dtype) : null;

    /// <summary>The weight as [rows, d] matching <see cref="Rows"/>, and back.</summary>
    internal static Tensor AsMatrix(nn.Module<Tensor, Tensor> module, Tensor w) => module is Convolution { transposed: true }
        ? w.permute(1, 2, 3, 0).reshape(-1, w.shape[0])      // [in, out, kh, kw] -> rows (out, kh, kw) over in
        : w.reshape(w.shape[0], -1);

    internal static Tensor FromMatrix(nn.Module<Tensor, Tensor> module, Tensor m, long[] shape) => module is Convolution { transposed: true }
        ? m.reshape(shape[1], shape[2], shape[3], shape[0]).permute(3, 0, 1, 2)
        : m.reshape(shape);

    /// <summary>The layer a reconstruction imitates: its module, its input on a batch, and its weight.</summary>
    private sealed record DenseLayer(nn.Module<Tensor, Tensor> Module, Func<ModelBatch, Tensor> Input, Tensor Weight);

    /// <summary>
    /// Channel pruning's reconstruction (ThiNet / He et al., ICCV 2017 "Channel Pruning": the next layer refitted from the kept
    /// channels): each layer named in <paramref name="denseWeights"/>, in <paramref name="pruned"/>'s forward order and each
    /// seeing the already-refitted layers before it, is refitted by least squares on its inputs there to reproduce, on the
    /// dense inputs, the same layer of <paramref name="dense"/> with the given weight (the dense weight cut to the output
    /// channels the pruned layer kept). The input widths may differ (removed input channels).
    /// </summary>
    public static Result RunAgainst(IModel pruned, IModel dense, IReadOnlyDictionary<string, Tensor> denseWeights, IReadOnlyList<ModelBatch> batches,
        double damping, IProgressReporter progress, string step, IReadOnlyList<Tensor>? cellWeights = null)
    {
        var layerNames = denseWeights.Keys;
        var modules = pruned.Module.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var denseModules = dense.Module.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var order = ForwardOrder(pruned, pruned.PrunableLayers.Where(l => layerNames.Contains(l.Name)).ToList(), modules, batches[0]);
        var skipped = layerNames.Where(n => order.All(l => l.Name != n)).ToList();
        var done = 0;
        pruned.Module.eval();
        dense.Module.eval();
        using var task = progress.Start($"{step}: reconstruction of the layers reading pruned channels", order.Count);
        foreach (var layer in order)
        {
            var module = (nn.Module<Tensor, Tensor>)modules[layer.Name];
            if (!Supported(module) || denseModules.GetValueOrDefault(layer.Name) is not nn.Module<Tensor, Tensor> denseModule) { skipped.Add(layer.Name); task.Advance(); continue; }
            Reconstruct(pruned, layer, module, new DenseLayer(denseModule, batch => CaptureInput(dense, denseModule, batch, null), denseWeights[layer.Name]),
                batches, damping, ReconstructionSelection.CompressorMasks, cellWeights);
            done++;
            task.Advance(1, layer.Name);
        }
        return new Result(done, skipped);
    }

    private static void Reconstruct(IModel model, PrunableLayer layer, nn.Module<Tensor, Tensor> module, DenseLayer dense,
        IReadOnlyList<ModelBatch> batches, double damping, ReconstructionSelection selection, IReadOnlyList<Tensor>? cellWeights)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = layer.Weight;
        Tensor? gram = null, cross = null;
        for (var b = 0; b < batches.Count; b++)
        {
            var batch = batches[b];
            using var batchScope = NewDisposeScope();
            using var quiet = NoGcRegion.Enter();   // TorchSharp's temporary scalars and the collector (Kit/NoGcRegion)
            // Rows stay in the layer's dtype (a 3x3 conv's unfolded input is [B·H·W, 9C]); only the d x d sums go to float64.
            var xDense = Rows(dense.Module, dense.Input(batch));
            var input = CaptureInput(model, module, batch, null);
            var x = Rows(module, input);
            if (RowScale(module, input, cellWeights?[b], x.dtype) is { } scale)
            {
                x = x * scale;
                xDense = xDense * scale;
            }
            var g = x.t().matmul(x).to_type(ScalarType.Float64);
            var c = x.t().matmul(xDense).to_type(ScalarType.Float64);
            gram = gram is null ? g.MoveToOuterDisposeScope() : gram.add_(g);
            cross = cross is null ? c.MoveToOuterDisposeScope() : cross.add_(c);
        }
        var wDense = AsMatrix(dense.Module, dense.Weight.detach().to_type(ScalarType.Float64));
        var keep = AsMatrix(module, weight.detach().ne(0));
        if (model.Masks.TryGet(layer.Name, out var mask)) keep = AsMatrix(module, mask.to(weight.device));
        var target = cross!.matmul(wDense.t());                                    // Xᵀ X_d W_denseᵀ: [d, rows]
        var h = Damped(gram!, damping);
        if (selection != ReconstructionSelection.CompressorMasks)
        {
            keep = selection == ReconstructionSelection.ObsSaliency
                ? ObsKeep(wDense, h, keep)
                // The unconstrained refit W* = (H⁻¹ target)ᵀ minimises ‖XW − X_d W_d‖², which equals ‖X(W − W*)‖² plus a
                // constant: so choosing the mask on W* with H is SparseGPT's problem exactly, input shift included.
                : SequentialObsKeep(linalg.solve(h, target).t(), h, keep, wDense.eq(0));
            model.Masks.Set(layer, FromMatrix(module, keep, weight.shape));
        }
        weight.copy_(FromMatrix(module, Solve(h, target, keep), weight.shape).to_type(weight.dtype));
        model.Masks.Apply(layer);
    }

    /// <summary>XᵀX + λI with λ = damping · mean diag(XᵀX) (at least 1e-12, so an all-zero input stays solvable).</summary>
    private static Tensor Damped(Tensor gram, double damping) =>
        gram + eye(gram.shape[0], dtype: ScalarType.Float64, device: gram.device) * Math.Max(damping * gram.diagonal().mean().item<double>(), 1e-12);

    /// <summary>Per output row r: w_S = H_SS⁻¹ target_S,r over the row's kept inputs S; zero elsewhere. [rows, d].</summary>
    private static Tensor Solve(Tensor h, Tensor target, Tensor keep)
    {
        var result = zeros(target.shape[1], target.shape[0], dtype: ScalarType.Float64, device: target.device);
        for (long r = 0; r < result.shape[0]; r++)
        {
            var s = keep[r].nonzero().flatten();
            if (s.shape[0] == 0) continue;
            var hs = h.index_select(0, s).index_select(1, s);
            var bs = target.index_select(0, s)[.., r];
            result[r].index_put_(linalg.solve(hs, bs), s);
        }
        return result;
    }

    /// <summary>
    /// For curves measured after reconstruction: the refit of one layer pruned alone (every other layer as it is, so
    /// its input is the dense network's), as a function from the layer's current zero pattern to refitted weights.
    /// Null when the layer's input cannot be captured (not called through hooks) or its kind is not supported.
    /// </summary>
    /// <param name="cellWeights">As in <see cref="Run"/>: per batch, how much each cell's rows weigh; null weighs them alike.</param>
    public static LayerRefit? LayerAloneRefit(IModel model, PrunableLayer layer, IReadOnlyList<ModelBatch> batches, double damping,
        IReadOnlyList<Tensor>? cellWeights = null)
    {
        var module = model.Module.named_modules().FirstOrDefault(m => m.name == layer.Name).module as nn.Module<Tensor, Tensor>;
        if (module is null || !Supported(module)) return null;
        Tensor? gram = null;
        Tensor h, target;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            try
            {
                for (var b = 0; b < batches.Count; b++)
                {
                    using var batchScope = NewDisposeScope();
                    using var quiet = NoGcRegion.Enter();   // TorchSharp's temporary scalars and the collector (Kit/NoGcRegion)
                    var input = CaptureInput(model, module, batches[b], null);
                    var x = Rows(module, input);
                    // Weighted as the final refit is (Reconstruct).
                    if (RowScale(module, input, cellWeights?[b], x.dtype) is { } scale) x = x * scale;
                    var g = x.t().matmul(x).to_type(ScalarType.Float64);
                    gram = gram is null ? g.MoveToOuterDisposeScope() : gram.add_(g);
                }
            }
            catch (InvalidOperationException)
            {
                return null;   // the hook never saw the input
            }
            // X = X_dense here: the right-hand side is the undamped XᵀΩX W_denseᵀ; the damping only regularises the solve.
            var dense = AsMatrix(module, layer.Weight.detach().to_type(ScalarType.Float64));
            target = gram!.matmul(dense.t()).DetachFromDisposeScope();
            h = Damped(gram, damping).DetachFromDisposeScope();
        }
        return new LayerRefit(module, h, target);
    }

    /// <summary>A layer's damped Gram matrix and right-hand side, ready to refit any zero pattern of its weight.</summary>
    public sealed class LayerRefit(nn.Module<Tensor, Tensor> module, Tensor h, Tensor target) : IDisposable
    {
        /// <summary>The layer's module (its kind decides how weights and input rows line up).</summary>
        internal nn.Module<Tensor, Tensor> Module => module;

        /// <summary>The damped Gram matrix XᵀΩX + λI of the layer's input rows, float64 [d, d].</summary>
        internal Tensor H => h;

        /// <summary>The weights that reproduce the dense layer's outputs best with <paramref name="current"/>'s zeros kept zero.</summary>
        public Tensor Apply(Tensor current)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var keep = AsMatrix(module, current.ne(0));
            return FromMatrix(module, Solve(h, target, keep), current.shape).to_type(current.dtype).MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            h.Dispose();
            target.Dispose();
        }
    }

    /// <summary>
    /// Keeps as many weights as <paramref name="keep"/> does, dropping those of lowest OBS saliency w²/[H⁻¹]ⱼⱼ across the
    /// whole layer (a row may lose more than another). Weights already zero before this step go first, so an earlier
    /// step's pruning is never undone.
    /// </summary>
    internal static Tensor ObsKeep(Tensor wDense, Tensor h, Tensor keep)
    {
        var removed = keep.numel() - keep.count_nonzero().item<long>();
        if (removed == 0) return keep;
        var inverseDiagonal = linalg.inv(h).diagonal();
        var saliency = wDense.square() / inverseDiagonal.unsqueeze(0);
        saliency = where(wDense.eq(0), full_like(saliency, -1.0), saliency).flatten();
        var drop = saliency.argsort().narrow(0, 0, removed);
        var chosen = ones(saliency.shape[0], dtype: ScalarType.Bool, device: saliency.device);
        chosen.index_put_(zeros(1, dtype: ScalarType.Bool), drop);
        return chosen.reshape(keep.shape);
    }

    /// <summary>Columns per block of <see cref="SequentialObsKeep"/>: each block's mask is chosen at once (SparseGPT's default).</summary>
    internal const int SequentialBlock = 128;

    /// <summary>
    /// SparseGPT's mask selection (Frantar &amp; Alistarh, ICML 2023, Algorithm 1) for the objective ‖X(W − <paramref name="w"/>)‖²,
    /// H = XᵀX + λI: with U the upper Cholesky factor of H⁻¹, columns are visited in order; at the start of each block of
    /// <paramref name="blockColumns"/> columns, the block's weights of lowest w²/Uⱼⱼ² (as updated so far) are marked for removal,
    /// as many as keeps the removed count on track for <paramref name="keep"/>'s; then each column's removals are made and
    /// their error err = w/Uⱼⱼ is compensated on the columns after it (W[:, j:] −= err·U[j, j:]). Weights in
    /// <paramref name="mustRemove"/> (zero before this step) go first in their block. Returns the kept weights, [rows, d].
    /// </summary>
    internal static Tensor SequentialObsKeep(Tensor w, Tensor h, Tensor keep, Tensor mustRemove, int blockColumns = SequentialBlock)
    {
        using var scope = NewDisposeScope();
        var (rows, d) = (w.shape[0], w.shape[1]);
        var toRemove = keep.numel() - keep.count_nonzero().item<long>();
        var chosen = ones(rows, d, dtype: ScalarType.Bool, device: w.device);
        if (toRemove == 0) return chosen.MoveToOuterDisposeScope();
        // cholesky(H⁻¹)ᵀ is upper; U = that: H⁻¹ = UᵀU. Row j of U from column j on is the OBS update direction.
        var u = linalg.cholesky(linalg.inv(h)).t().contiguous();
        var current = w.clone();
        long removed = 0;
        for (long start = 0; start < d; start += blockColumns)
        {
            var end = Math.Min(start + blockColumns, d);
            var width = end - start;
            var block = current.narrow(1, start, width).clone();
            var ub = u.narrow(0, start, width).narrow(1, start, width);
            var pivots = ub.diagonal();
            // Removals due by the block's end, pro rata to columns, at least the block's forced zeros.
            var due = (long)Math.Round(toRemove * (double)end / d) - removed;
            var forced = mustRemove.narrow(1, start, width);
            var saliency = where(forced, full_like(block, -1.0), block.square() / pivots.square().unsqueeze(0)).flatten();
            var count = Math.Clamp(due, forced.count_nonzero().item<long>(), block.numel());
            var drop = zeros(block.numel(), dtype: ScalarType.Bool, device: w.device);
            if (count > 0) drop.index_put_(ones(1, dtype: ScalarType.Bool), saliency.argsort().narrow(0, 0, count));
            drop = drop.reshape(rows, width);
            removed += count;
            var errors = zeros_like(block);
            for (long j = 0; j < width; j++)
            {
                var column = block.select(1, j);
                var err = column * drop.select(1, j).to_type(column.dtype) / pivots[j];
                block.narrow(1, j, width - j).sub_(err.unsqueeze(1) * ub[j].narrow(0, j, width - j).unsqueeze(0));
                errors.select(1, j).copy_(err);
            }
            if (end < d) current.narrow(1, end, d - end).sub_(errors.matmul(u.narrow(0, start, width).narrow(1, end, d - end)));
            chosen.narrow(1, start, width).copy_(drop.logical_not());
        }
        return chosen.MoveToOuterDisposeScope();
    }

    /// <summary>The layer's input on one batch, in the current network or (with <paramref name="dense"/>) the dense one.</summary>
    private static Tensor CaptureInput(IModel model, nn.Module<Tensor, Tensor> module, ModelBatch batch, IReadOnlyDictionary<string, Tensor>? dense)
    {
        Tensor? captured = null;
        var current = new List<(PrunableLayer Layer, Tensor Weight)>();
        if (dense is not null)
            foreach (var l in model.PrunableLayers)
            {
                current.Add((l, l.Weight.detach().clone()));
                l.Weight.copy_(dense[l.Name]);
            }
        var hook = module.register_forward_pre_hook((_, x) =>
        {
            captured = x.detach().clone().MoveToOuterDisposeScope();
            throw new InputCaptured();
        });
        try
        {
            using var scope = NewDisposeScope();
            model.Forward(batch);
        }
        catch (InputCaptured)
        {
        }
        finally
        {
            hook.remove();
            foreach (var (l, w) in current) { l.Weight.copy_(w); w.Dispose(); }
        }
        return captured ?? throw new InvalidOperationException("The layer's input was not seen by its hook.");
    }
}
