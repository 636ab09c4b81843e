using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// Network augmentation for PointNet (Cai et al., ICLR 2022, Sec. 3; T3DNet stage 1): the augmented network's
/// weight of each layer is the block matrix [[W, C], [R]] where W is the tiny model's own weight and C (extra
/// input columns) and R (extra output rows) are the augmentation weights. An augmented width takes the leading
/// (out, in) slice, so the tiny model is always the top-left block and gradients of the augmented loss reach W.
/// The T-Nets are shared at the tiny width; the feature transform acts on the tiny model's leading channels and
/// the extra channels bypass it.
/// </summary>
public sealed class NetworkAugmentation : IDisposable
{
    private sealed record Extra(Parameter? Columns, Parameter? Rows, Parameter? Gamma, Parameter? Beta, long InWide, long OutWide);

    private readonly PointNetNetwork network;
    private readonly IReadOnlyList<IMatrixLayer> layers;
    private readonly List<Extra> extras = [];

    public NetworkAugmentation(PointNetNetwork network, double maxWidthFactor, Device device)
    {
        if (maxWidthFactor < 1) throw new ArgumentOutOfRangeException(nameof(maxWidthFactor), maxWidthFactor, "The augmented width factor must be at least 1.");
        this.network = network;
        layers = network.Trunk;
        MaxWidthFactor = maxWidthFactor;
        long previousWide = layers[0].InChannels;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var inWide = i == 0 ? layer.InChannels : previousWide;
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
            extras.Add(new Extra(columns, rows, gamma, beta, inWide, outWide));
            previousWide = outWide;
        }
    }

    public double MaxWidthFactor { get; }

    public IReadOnlyList<Parameter> Parameters =>
        extras.SelectMany(e => new[] { e.Columns, e.Rows, e.Gamma, e.Beta }).OfType<Parameter>().ToArray();

    private static long Widen(long channels, double factor) => Math.Max(channels, (long)Math.Round(channels * factor));

    /// <summary>Output channels of layer <paramref name="index"/> at <paramref name="factor"/> x the tiny width.</summary>
    public long OutWidth(int index, double factor) =>
        index == layers.Count - 1 ? layers[index].OutChannels : Math.Min(extras[index].OutWide, Widen(layers[index].OutChannels, factor));

    public long InWidth(int index, double factor) => index == 0 ? layers[0].InChannels : OutWidth(index - 1, factor);

    /// <summary>The augmented (out, in) weight of layer <paramref name="index"/>: the leading slice of [[W, C], [R]].</summary>
    public Tensor Weight(int index, double factor)
    {
        var extra = extras[index];
        var top = extra.Columns is null ? layers[index].Matrix : cat([layers[index].Matrix, extra.Columns], 1);
        var full = extra.Rows is null ? top : cat([top, extra.Rows], 0);
        return full[TensorIndex.Slice(0, OutWidth(index, factor)), TensorIndex.Slice(0, InWidth(index, factor))];
    }

    private Tensor Layer(int index, Tensor x, double factor)
    {
        var layer = layers[index];
        var w = Weight(index, factor);
        var y = x.dim() == 3 ? w.matmul(x) : x.matmul(w.t());
        if (layer.Norm is null) return layer.Bias is null ? y : y + layer.Bias;
        var extra = extras[index];
        var outF = OutWidth(index, factor);
        var gamma = extra.Gamma is null ? layer.Norm.weight! : cat([layer.Norm.weight!, extra.Gamma]);
        var beta = extra.Beta is null ? layer.Norm.bias! : cat([layer.Norm.bias!, extra.Beta]);
        gamma = gamma[TensorIndex.Slice(0, outF)];
        beta = beta[TensorIndex.Slice(0, outF)];
        // Batch statistics: the augmented widths have no running statistics of their own (NetAug trains
        // them only as a training-time supervision, Sec. 3.2), and the tiny model's must not absorb theirs.
        long[] dims = x.dim() == 3 ? [0, 2] : [0];
        var mean = y.mean(dims, keepdim: true);
        var variance = (y - mean).square().mean(dims, keepdim: true);
        var normalized = (y - mean) / (variance + layer.Norm.eps).sqrt();
        var shape = x.dim() == 3 ? new long[] { 1, outF, 1 } : [1, outF];
        return nn.functional.relu(normalized * gamma.view(shape) + beta.view(shape));
    }

    /// <summary>The augmented network's logits and the feature transform, for points (B, C, N).</summary>
    public (Tensor Logits, Tensor? FeatureTransform) Run(Tensor points, double factor, bool training) =>
        network.Run(points, (index, x) => Layer(index, x, factor), training);

    public void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
        extras.Clear();
    }
}
