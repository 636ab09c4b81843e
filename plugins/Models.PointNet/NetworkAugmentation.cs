using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// Network augmentation (Cai et al., ICLR 2022, Sec. 3; T3DNet stage 1) over a chain of matrix layers, for PointNet and
/// PointNet++: the augmented network's weight of each layer is the block matrix [[W, C], [R]] where W is the tiny
/// model's own weight and C (extra input columns) and R (extra output rows) are the augmentation weights. An augmented
/// width takes the leading (out, in) slice, so the tiny model is always the top-left block and gradients of the
/// augmented loss reach W. A layer's input is what its network feeds it: the previous layer's output, possibly behind
/// channels of its own (PointNet++ puts each group's 3 local coordinates first); the previous layer's extra channels
/// come last. The network runs the augmented pass by calling <see cref="Layer"/> in place of each layer (PointNet: the
/// T-Nets stay at the tiny width, the feature transform acts on the leading channels and the extras bypass it).
/// </summary>
public sealed class NetworkAugmentation : IDisposable
{
    private sealed record Extra(Parameter? Columns, Parameter? Rows, Parameter? Gamma, Parameter? Beta, long OutWide);

    private readonly IReadOnlyList<IMatrixLayer> layers;
    private readonly List<Extra> extras = [];

    /// <param name="layers">The network's matrix layers in forward order, each reading the one before (the first reads the input).</param>
    public NetworkAugmentation(IReadOnlyList<IMatrixLayer> layers, double maxWidthFactor, Device device)
    {
        if (maxWidthFactor < 1) throw new ArgumentOutOfRangeException(nameof(maxWidthFactor), maxWidthFactor, "The augmented width factor must be at least 1.");
        this.layers = layers;
        MaxWidthFactor = maxWidthFactor;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var inWide = InWidth(i, maxWidthFactor);   // reads the layers before this one, already widened
            var outWide = i == layers.Count - 1 ? layer.OutChannels : Widen(layer.OutChannels, maxWidthFactor);
            // The default init of torch's linear and conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
            var bound = 1.0 / Math.Sqrt(inWide);
            Parameter? NewWeight(long rows, long cols) => rows * cols == 0 ? null
                : nn.Parameter((rand(new long[] { rows, cols }, device: device) * 2 - 1) * bound);
            var columns = NewWeight(layer.OutChannels, inWide - layer.InChannels);
            var rows = NewWeight(outWide - layer.OutChannels, inWide);
            Parameter? gamma = null, beta = null;
            if (layer.Norm is not null && outWide > layer.OutChannels)
            {
                gamma = nn.Parameter(ones(outWide - layer.OutChannels, device: device));
                beta = nn.Parameter(zeros(outWide - layer.OutChannels, device: device));
            }
            extras.Add(new Extra(columns, rows, gamma, beta, outWide));
        }
    }

    public double MaxWidthFactor { get; }

    public IReadOnlyList<Parameter> Parameters =>
        extras.SelectMany(e => new[] { e.Columns, e.Rows, e.Gamma, e.Beta }).OfType<Parameter>().ToArray();

    private static long Widen(long channels, double factor) => Math.Max(channels, (long)Math.Round(channels * factor));

    /// <summary>Output channels of layer <paramref name="index"/> at <paramref name="factor"/> x the tiny width.</summary>
    public long OutWidth(int index, double factor) =>
        index == layers.Count - 1 ? layers[index].OutChannels : Math.Min(extras[index].OutWide, Widen(layers[index].OutChannels, factor));

    /// <summary>Input channels of layer <paramref name="index"/> when the layer before it runs at <paramref name="previousFactor"/> x.</summary>
    public long InWidth(int index, double previousFactor) =>
        index == 0 ? layers[0].InChannels : layers[index].InChannels + (OutWidth(index - 1, previousFactor) - layers[index - 1].OutChannels);

    /// <summary>The number of layers, each of which can run at a width factor of its own.</summary>
    public int LayerCount => layers.Count;

    /// <summary>The same factor for every layer (the augmented network is a uniformly wider one).</summary>
    public IReadOnlyList<double> Uniform(double factor) => Enumerable.Repeat(factor, layers.Count).ToArray();

    /// <summary>The augmented (out, in) weight of layer <paramref name="index"/> at <paramref name="factor"/> x for every layer.</summary>
    public Tensor Weight(int index, double factor) => Weight(index, Uniform(factor));

    /// <summary>
    /// The augmented (out, in) weight of layer <paramref name="index"/>: the leading slice of [[W, C], [R]], its rows
    /// set by the layer's own factor and its columns by the factor of the layer before it.
    /// </summary>
    public Tensor Weight(int index, IReadOnlyList<double> factors)
    {
        var extra = extras[index];
        var top = extra.Columns is null ? layers[index].Matrix : cat([layers[index].Matrix, extra.Columns], 1);
        var full = extra.Rows is null ? top : cat([top, extra.Rows], 0);
        var inWidth = InWidth(index, index == 0 ? 1 : factors[index - 1]);
        return full[TensorIndex.Slice(0, OutWidth(index, factors[index])), TensorIndex.Slice(0, inWidth)];
    }

    /// <summary>
    /// Layer <paramref name="index"/> of the augmented network whose layer i runs at <paramref name="factors"/>[i] x
    /// the tiny width, on x of (B, in), (B, in, N) or (B, in, K, S): the matrix, then the layer's batch norm (on the
    /// batch's statistics) and ReLU, or its bias.
    /// </summary>
    public Tensor Layer(int index, Tensor x, IReadOnlyList<double> factors)
    {
        var layer = layers[index];
        var w = Weight(index, factors);
        var y = x.dim() == 2 ? x.matmul(w.t()) : w.matmul(x.flatten(2)).view([x.shape[0], w.shape[0], .. x.shape[2..]]);
        if (layer.Norm is null) return layer.Bias is null ? y : y + layer.Bias;
        var extra = extras[index];
        var outF = OutWidth(index, factors[index]);
        var gamma = extra.Gamma is null ? layer.Norm.weight! : cat([layer.Norm.weight!, extra.Gamma]);
        var beta = extra.Beta is null ? layer.Norm.bias! : cat([layer.Norm.bias!, extra.Beta]);
        gamma = gamma[TensorIndex.Slice(0, outF)];
        beta = beta[TensorIndex.Slice(0, outF)];
        // Batch statistics: the augmented widths have no running statistics of their own (NetAug trains
        // them only as a training-time supervision, Sec. 3.2), and the tiny model's must not absorb theirs.
        var dims = Enumerable.Range(0, (int)y.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
        var mean = y.mean(dims, keepdim: true);
        var variance = (y - mean).square().mean(dims, keepdim: true);
        var normalized = (y - mean) / (variance + layer.Norm.eps).sqrt();
        var shape = Enumerable.Range(0, (int)y.dim()).Select(d => d == 1 ? outF : 1L).ToArray();
        return nn.functional.relu(normalized * gamma.view(shape) + beta.view(shape));
    }

    public void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
        extras.Clear();
    }
}

/// <summary>
/// A model's network augmentation while it is enabled: the <see cref="Platform.Abstractions.Models.IWidthAugmentable"/>
/// plumbing that PointNet and PointNet++ share (each runs its own forward pass with <see cref="LayerAt"/>'s layers).
/// </summary>
internal sealed class AugmentationSlot(nn.Module network, Func<IReadOnlyList<IMatrixLayer>> layers) : IDisposable
{
    /// <summary>The augmentation in use (null when disabled).</summary>
    public NetworkAugmentation? Current { get; private set; }

    public IReadOnlyList<Parameter> Parameters => Current?.Parameters ?? [];

    public void Enable(double maxWidthFactor)
    {
        Dispose();
        Current = new NetworkAugmentation(layers(), maxWidthFactor, network.parameters().First().device);
    }

    /// <summary>The number of layers the augmented forward widens (the network's matrix layers).</summary>
    public int LayerCount => layers().Count;

    /// <summary>Layer i of the augmented network at <paramref name="layerWidthFactors"/>[i] x its own width, applied to x.</summary>
    public Func<int, Tensor, Tensor> LayerAt(IReadOnlyList<double> layerWidthFactors)
    {
        var augmentation = Current ?? throw new InvalidOperationException("Call EnableAugmentation before ForwardAugmented.");
        if (layerWidthFactors.Count != augmentation.LayerCount)
            throw new ArgumentException($"Expected one width factor per augmented layer ({augmentation.LayerCount}), got {layerWidthFactors.Count}.", nameof(layerWidthFactors));
        foreach (var factor in layerWidthFactors)
            if (factor < 1 || factor > augmentation.MaxWidthFactor + 1e-9)
                throw new ArgumentOutOfRangeException(nameof(layerWidthFactors), factor, $"Augmentation was enabled for width factors from 1 to {augmentation.MaxWidthFactor}x.");
        var factors = layerWidthFactors.ToArray();
        return (index, x) => augmentation.Layer(index, x, factors);
    }

    public void Dispose()
    {
        Current?.Dispose();
        Current = null;
    }
}
