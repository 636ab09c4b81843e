using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// A channel group's removal order chosen on data (<see cref="ChannelOrder.GreedyObs"/>): the channel whose removal, with
/// its readers refitted by least squares on the calibration inputs, changes the readers' outputs least goes first; then
/// the next, given those already gone. This is ThiNet's and He et al.'s (ICCV 2017) criterion, the reconstruction error,
/// chosen greedily with Optimal Brain Surgeon's closed forms on blocks of columns: for a reader with weight matrix W over
/// its input rows X (a conv's unfolded patches: one block of k·k columns per channel) and H = XᵀΩX + λI,
/// removing the columns C of a channel and refitting the rest costs tr(W_C [H⁻¹]_CC⁻¹ W_Cᵀ) in output error, and the
/// refit is W ← W − W_C [H⁻¹]_CC⁻¹ [H⁻¹]_C,: with H⁻¹ updated alike. A group's cost sums over its readers.
/// A data-free score (filter norms) cannot see that two channels carry the same signal, or that a small filter feeds
/// a reader that depends on it; the refit can absorb the first and must keep the second.
/// </summary>
internal sealed class GreedyChannelOrder : IDisposable
{
    /// <summary>Per channel, the step at which it is removed (higher = kept longer): an importance for <c>MostImportant</c>.</summary>
    public double[] Importance { get; }

    /// <summary>
    /// For each kept count asked for, each reader's weight refitted on the kept channels (removed columns zero), in the
    /// reader's own layout: what the readers become when the group keeps that many channels.
    /// </summary>
    public IReadOnlyDictionary<long, IReadOnlyList<(Parameter Weight, Tensor Refit)>> Refits => _refits;

    private readonly Dictionary<long, IReadOnlyList<(Parameter Weight, Tensor Refit)>> _refits = new();

    private GreedyChannelOrder(double[] importance) => Importance = importance;

    /// <summary>Why a group cannot be ordered on data (a reader whose input is not seen, or of a kind not refitted); null if it can.</summary>
    public string? Unsupported { get; private init; }

    /// <summary>
    /// Orders <paramref name="group"/>'s channels on the dense <paramref name="model"/>'s calibration
    /// <paramref name="batches"/>; keeps the readers' refits at each of <paramref name="keptCounts"/>.
    /// </summary>
    public static GreedyChannelOrder Compute(IModel model, ChannelGroup group, IReadOnlyList<ModelBatch> batches, double damping,
        IReadOnlyList<Tensor>? cellWeights, IReadOnlyCollection<long> keptCounts)
    {
        var layers = model.PrunableLayers.ToDictionary(l => l.Name + ".weight", l => l, StringComparer.Ordinal);
        var readers = new List<Reader>();
        try
        {
            foreach (var consumer in group.Consumers)
            {
                if (!layers.TryGetValue(consumer.Tensor, out var layer))
                    return Refused($"its reader '{consumer.Tensor}' is not a prunable layer's weight");
                var refit = WeightReconstruction.LayerAloneRefit(model, layer, batches, damping, cellWeights);
                if (refit is null) return Refused($"the input of its reader '{layer.Name}' cannot be captured or refitted");
                using (refit)
                {
                    var module = refit.Module;
                    var inputDim = module is Convolution { transposed: true } ? 0 : 1;
                    if (consumer.Dim != inputDim) return Refused($"its reader '{consumer.Tensor}' reads the group along dimension {consumer.Dim}, not its input dimension");
                    // A conv's unfolded rows hold each input channel's k·k taps together; a deblock's and a linear layer's one value.
                    var perChannel = module is Convolution { transposed: false } c ? c.kernel_size.Aggregate(1L, (a, k) => a * k) : 1L;
                    using var _ = no_grad();
                    readers.Add(new Reader(layer.Weight, module, linalg.inv(refit.H),
                        WeightReconstruction.AsMatrix(module, layer.Weight.detach().to_type(ScalarType.Float64)), consumer.Offset, perChannel));
                }
            }
            if (readers.Count == 0) return Refused("it has no readers");
            return Greedy(group, readers, keptCounts);
        }
        finally
        {
            foreach (var r in readers) r.Dispose();
        }
    }

    private static GreedyChannelOrder Refused(string why) => new([]) { Unsupported = why };

    private static GreedyChannelOrder Greedy(ChannelGroup group, List<Reader> readers, IReadOnlyCollection<long> keptCounts)
    {
        using var _ = no_grad();
        var channels = (int)group.Channels;
        var importance = new double[channels];
        var order = new GreedyChannelOrder(importance);
        var remaining = Enumerable.Range(0, channels).ToList();
        var wanted = keptCounts.Where(k => k >= 1 && k < channels).ToHashSet();
        for (var step = 0; step < channels - 1; step++)
        {
            using var scope = NewDisposeScope();
            var cost = zeros(remaining.Count, dtype: ScalarType.Float64);
            foreach (var reader in readers)
                cost.add_(reader.RemovalCosts(remaining).cpu());
            var pick = (int)cost.argmin().item<long>();
            var channel = remaining[pick];
            foreach (var reader in readers) reader.Remove(channel);
            importance[channel] = step;
            remaining.RemoveAt(pick);
            if (wanted.Contains(remaining.Count))
                order._refits[remaining.Count] = readers.Select(r => (r.Weight, r.RefitInOwnLayout().DetachFromDisposeScope())).ToList();
        }
        importance[remaining[0]] = channels - 1;
        return order;
    }

    /// <summary>One reader of the group: its inverse damped Gram matrix and weight matrix, both updated as channels go.</summary>
    private sealed class Reader(Parameter weight, nn.Module<Tensor, Tensor> module, Tensor hInverse, Tensor w, long offset, long perChannel) : IDisposable
    {
        public Parameter Weight { get; } = weight;
        private Tensor _hInverse = hInverse;
        private Tensor _w = w;

        private Tensor Columns(IReadOnlyList<int> channels) =>
            (tensor(channels.Select(c => (c + offset) * perChannel).ToArray(), device: _w.device).unsqueeze(1)
             + arange(perChannel, device: _w.device).unsqueeze(0));   // [R, K]

        /// <summary>tr(W_C [H⁻¹]_CC⁻¹ W_Cᵀ) for each channel's block of columns C, all channels at once.</summary>
        public Tensor RemovalCosts(IReadOnlyList<int> channels)
        {
            var columns = Columns(channels);
            var (r, k) = (columns.shape[0], columns.shape[1]);
            var flat = columns.reshape(-1);
            var blocks = _hInverse.index_select(0, flat).reshape(r, k, -1).gather(2, columns.unsqueeze(1).expand(r, k, k));
            var wc = _w.index_select(1, flat).reshape(_w.shape[0], r, k).permute(1, 0, 2);   // [R, rows, K]
            // W_C B⁻¹ W_Cᵀ's trace = Σ (W_C B⁻¹) ⊙ W_C; B is symmetric positive definite (damped).
            return wc.matmul(linalg.inv(blocks)).mul(wc).sum([1, 2]);
        }

        /// <summary>The channel's columns removed and the rest refitted: OBS's block update of W and H⁻¹.</summary>
        public void Remove(int channel)
        {
            using var scope = NewDisposeScope();
            var columns = Columns([channel]).reshape(-1);
            var hRows = _hInverse.index_select(0, columns);                      // [K, d]
            var binv = linalg.inv(hRows.index_select(1, columns));
            var w = _w - _w.index_select(1, columns).matmul(binv).matmul(hRows);
            var h = _hInverse - hRows.t().matmul(binv).matmul(hRows);
            w.index_fill_(1, columns, 0);   // exactly zero, not rounding's remainder
            _w.Dispose();
            _hInverse.Dispose();
            _w = w.DetachFromDisposeScope();
            _hInverse = h.DetachFromDisposeScope();
        }

        public Tensor RefitInOwnLayout() =>
            WeightReconstruction.FromMatrix(module, _w, Weight.shape).to_type(Weight.dtype);

        public void Dispose()
        {
            _hInverse.Dispose();
            _w.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var refit in _refits.Values.SelectMany(r => r)) refit.Refit.Dispose();
    }
}
