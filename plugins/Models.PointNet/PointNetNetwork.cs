using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// The PointNet classification network (Qi et al., CVPR 2017, Fig. 2): input transform, shared MLP (64, 64),
/// feature transform, shared MLP (64, 128, 1024), max pooling, MLP (512, 256, k). Every hidden width is
/// scaled by the width multiplier, so one class builds the teacher and the tiny student; a layer named in the channel
/// widths (a channel-pruned model's, see <see cref="PointNetModel.ChannelGroups"/>) has that width instead. Layers are named
/// as their parameters are (after the fields: "mlp5", "inputTransform.fc1").
/// </summary>
public sealed class PointNetNetwork : nn.Module
{
    private readonly TNet? inputTransform;
    private readonly SharedMlp mlp1, mlp2;
    private readonly TNet? featureTransform;
    private readonly SharedMlp mlp3, mlp4, mlp5;
    private readonly FullyConnected fc1, fc2;
    private readonly ClassScores classifier;
    private readonly double dropout;

    public PointNetNetwork(int inputChannels, int classes, double widthMultiplier, bool useInputTransform, bool useFeatureTransform, double dropout,
        IReadOnlyDictionary<string, int>? channelWidths = null)
        : base("pointnet")
    {
        long Width(string layer, int paper) =>
            channelWidths is not null && channelWidths.TryGetValue(layer, out var w) ? w : ScaledWidth(paper, widthMultiplier);
        this.dropout = dropout;
        if (useInputTransform) inputTransform = new TNet("input_transform", 3, (layer, paper) => Width("inputTransform." + layer, paper));
        mlp1 = new SharedMlp("mlp1", inputChannels, Width("mlp1", 64));
        mlp2 = new SharedMlp("mlp2", mlp1.OutChannels, Width("mlp2", 64));
        if (useFeatureTransform) featureTransform = new TNet("feature_transform", mlp2.OutChannels, (layer, paper) => Width("featureTransform." + layer, paper));
        mlp3 = new SharedMlp("mlp3", mlp2.OutChannels, Width("mlp3", 64));
        mlp4 = new SharedMlp("mlp4", mlp3.OutChannels, Width("mlp4", 128));
        mlp5 = new SharedMlp("mlp5", mlp4.OutChannels, Width("mlp5", 1024));
        fc1 = new FullyConnected("fc1", mlp5.OutChannels, Width("fc1", 512));
        fc2 = new FullyConnected("fc2", fc1.OutChannels, Width("fc2", 256));
        classifier = new ClassScores("classifier", fc2.OutChannels, classes);
        RegisterComponents();
    }

    public static long ScaledWidth(int channels, double multiplier) => Math.Max(1, (long)Math.Round(channels * multiplier));

    /// <summary>The layers whose weights network augmentation widens, in forward order.</summary>
    public IReadOnlyList<IMatrixLayer> Trunk => [mlp1, mlp2, mlp3, mlp4, mlp5, fc1, fc2, classifier];

    public TNet? InputTransform => inputTransform;
    public TNet? FeatureTransform => featureTransform;
    public double Dropout => dropout;

    /// <summary>(B, C, N) points to logits (B, classes) and the feature transform (B, k, k) when there is one.</summary>
    public (Tensor Logits, Tensor? FeatureTransform) Run(Tensor points)
    {
        var trunk = Trunk;
        return Run(points, (index, x) => ((nn.Module<Tensor, Tensor>)trunk[index]).forward(x), training);
    }

    /// <summary>
    /// The forward pass with <paramref name="layer"/>(i, x) applying <see cref="Trunk"/>[i]: network augmentation runs the
    /// same pass with widened layers. The feature transform acts on the leading channels when x has more (the extras bypass it).
    /// </summary>
    public (Tensor Logits, Tensor? FeatureTransform) Run(Tensor points, Func<int, Tensor, Tensor> layer, bool training)
    {
        var x = AlignInput(points);
        x = layer(1, layer(0, x));
        Tensor? a = null;
        if (featureTransform is not null)
        {
            var k = featureTransform.K;
            var lead = x.shape[1] == k ? x : x[TensorIndex.Colon, TensorIndex.Slice(0, k)];
            a = featureTransform.forward(lead);
            lead = a.transpose(1, 2).matmul(lead);       // x' = x A per point, in channel-first layout
            x = x.shape[1] == k ? lead : cat([lead, x[TensorIndex.Colon, TensorIndex.Slice(k, null)]], 1);
        }
        var global = layer(4, layer(3, layer(2, x))).amax(2);   // symmetric max pooling (Eq. 1)
        var h = nn.functional.dropout(layer(5, global), dropout, training);
        h = nn.functional.dropout(layer(6, h), dropout, training);
        return (layer(7, h), a);
    }

    /// <summary>
    /// The eval-mode forward pass as ONNX operators, layer for layer as <see cref="Run(Tensor)"/>: (B, C, N) points of
    /// <paramref name="channels"/> features to logits (B, classes).
    /// </summary>
    public GraphValue WriteGraph(IGraphWriter g, GraphValue points, long channels)
    {
        var x = points;
        if (inputTransform is not null)
        {
            var xyz = channels == 3 ? points : g.Slice(points, 1, 0, 3);
            var aligned = g.Op("MatMul", g.Transpose(inputTransform.WriteGraph(g, xyz), 0, 2, 1), xyz);
            x = channels == 3 ? aligned : g.Concat(1, aligned, g.Slice(points, 1, 3, long.MaxValue));
        }
        x = mlp2.WriteGraph(g, mlp1.WriteGraph(g, x));
        if (featureTransform is not null)
        {
            var k = featureTransform.K;
            var whole = mlp2.OutChannels == k;
            var lead = whole ? x : g.Slice(x, 1, 0, k);
            lead = g.Op("MatMul", g.Transpose(featureTransform.WriteGraph(g, lead), 0, 2, 1), lead);
            x = whole ? lead : g.Concat(1, lead, g.Slice(x, 1, k, long.MaxValue));
        }
        var global = g.ReduceMax(mlp5.WriteGraph(g, mlp4.WriteGraph(g, mlp3.WriteGraph(g, x))), [2]);
        return classifier.WriteGraph(g, fc2.WriteGraph(g, fc1.WriteGraph(g, global)));
    }

    /// <summary>Applies the input transform to xyz (and leaves extra features such as normals as they are).</summary>
    public Tensor AlignInput(Tensor points)
    {
        if (inputTransform is null) return points;
        var xyz = points[TensorIndex.Colon, TensorIndex.Slice(0, 3)];
        var t = inputTransform.forward(xyz);
        var aligned = t.transpose(1, 2).matmul(xyz);
        return points.shape[1] == 3 ? aligned : cat([aligned, points[TensorIndex.Colon, TensorIndex.Slice(3, null)]], 1);
    }
}
