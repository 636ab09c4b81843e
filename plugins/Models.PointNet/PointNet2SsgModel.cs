using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

public sealed class PointNet2SsgOptions
{
    [Description("Scales every hidden width of the set abstraction MLPs and the head; 1 is the published PointNet++ SSG.")]
    [Range(0.01, 8.0)]
    public double WidthMultiplier { get; set; } = 1.0;

    [Description("Points per shape fed to the network.")]
    [Range(16, 100000)]
    public int NumPoints { get; set; } = 1024;

    [Description("Centroids of the first set abstraction level (farthest point sampling).")]
    [Range(1, 100000)]
    public int Sa1Centroids { get; set; } = 512;

    [Description("Ball query radius of the first level (shapes are in the unit sphere).")]
    [Range(0.001, 10.0)]
    public double Sa1Radius { get; set; } = 0.2;

    [Description("Neighbours grouped per centroid in the first level.")]
    [Range(1, 1024)]
    public int Sa1Samples { get; set; } = 32;

    [Description("Centroids of the second set abstraction level.")]
    [Range(1, 100000)]
    public int Sa2Centroids { get; set; } = 128;

    [Description("Ball query radius of the second level.")]
    [Range(0.001, 10.0)]
    public double Sa2Radius { get; set; } = 0.4;

    [Description("Neighbours grouped per centroid in the second level.")]
    [Range(1, 1024)]
    public int Sa2Samples { get; set; } = 64;

    [Description("Dropout probability in the classifier head.")]
    [Range(0.0, 0.95)]
    public double Dropout { get; set; } = 0.4;

    [Description("Widths of single layers by channel-group name (e.g. 'sa2.mlp.mlp3': 96, 'fc1': 256), overriding WidthMultiplier: what channel pruning writes, so a pruned checkpoint rebuilds its own architecture.")]
    public Dictionary<string, int> ChannelWidths { get; set; } = [];
}

/// <summary>A shared MLP over grouped points: 1x1 conv on (B, C, K, S), batch norm, ReLU.</summary>
public sealed class GroupedMlp : nn.Module<Tensor, Tensor>, IMatrixLayer
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d norm;

    public GroupedMlp(string name, long inChannels, long outChannels) : base(name)
    {
        conv = nn.Conv2d(inChannels, outChannels, 1, bias: false);
        norm = nn.BatchNorm2d(outChannels);
        (InChannels, OutChannels) = (inChannels, outChannels);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public Tensor Matrix => conv.weight!.flatten(1);
    public BatchNorm? Norm => norm;
    public Parameter? Bias => null;

    public override Tensor forward(Tensor x) => nn.functional.relu(norm.forward(conv.call(x)));

    public GraphValue WriteGraph(IGraphWriter graph, GraphValue x) => graph.Relu(graph.Layer(norm, graph.Layer(conv, x)));
}

/// <summary>
/// A set abstraction level (PointNet++ Sec. 3.2): sampling (FPS picks centroids), grouping (ball query), and a
/// mini-PointNet (shared MLP, max over each group). With no centroid count it groups all points into one set.
/// </summary>
public sealed class SetAbstraction : nn.Module
{
    private readonly Sequential mlp;

    public SetAbstraction(string name, int? centroids, double radius, int samples, long inChannels, long[] widths) : base(name)
    {
        (Centroids, Radius, Samples) = (centroids, radius, samples);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        var c = inChannels + 3;   // grouped features are concatenated with local coordinates
        for (var i = 0; i < widths.Length; i++)
        {
            layers.Add(($"mlp{i + 1}", new GroupedMlp($"mlp{i + 1}", c, widths[i])));
            c = widths[i];
        }
        mlp = nn.Sequential(layers);
        Widths = widths;
        OutChannels = c;
        RegisterComponents();
    }

    public int? Centroids { get; }

    /// <summary>The level's shared MLP layers in order.</summary>
    public IEnumerable<GroupedMlp> Mlp => mlp.children().Cast<GroupedMlp>();
    public double Radius { get; }
    public int Samples { get; }
    public long OutChannels { get; }

    /// <summary>The output width of each layer of the level's MLP.</summary>
    public IReadOnlyList<long> Widths { get; }

    /// <summary>
    /// xyz (B, N, 3), features (B, N, C) or null: centroids (B, S, 3) and their features (B, S, C'). With
    /// <paramref name="layer"/>(i, x) in place of the MLP's layer i (network augmentation runs wider ones).
    /// </summary>
    public (Tensor Xyz, Tensor Features) Run(Tensor xyz, Tensor? features, Func<int, Tensor, Tensor>? layer = null)
    {
        Tensor centres, grouped;
        if (Centroids is not { } count)
        {
            centres = zeros(xyz.shape[0], 1, 3, device: xyz.device);
            grouped = (features is null ? xyz : cat([xyz, features], -1)).unsqueeze(1);        // (B, 1, N, 3 + C)
        }
        else
        {
            Tensor index, groups;
            using (no_grad())
            {
                index = PointCloudOps.FarthestPointSample(xyz, count);
            }
            centres = PointCloudOps.Gather(xyz, index);                                           // (B, S, 3)
            using (no_grad())
            {
                groups = PointCloudOps.BallQuery(xyz, centres, Radius, Samples);                   // (B, S, K)
            }
            var local = PointCloudOps.Gather(xyz, groups) - centres.unsqueeze(2);               // translation-normalised (Sec. 3.2)
            grouped = features is null ? local : cat([local, PointCloudOps.Gather(features, groups)], -1);
        }
        // (B, S, K, C) -> (B, C, K, S); max over the K neighbours of each centroid.
        var h = grouped.permute(0, 3, 2, 1);
        if (layer is null) h = mlp.forward(h);
        else for (var i = 0; i < Widths.Count; i++) h = layer(i, h);
        h = h.amax(2);                                                                           // (B, C', S)
        return (centres, h.transpose(1, 2));
    }
}

/// <summary>The set abstraction level as ONNX operators (<see cref="PointCloudGraph"/>), step for step as <see cref="SetAbstraction.Run"/>.</summary>
public static class SetAbstractionGraph
{
    /// <summary>xyz (B, N, 3) with <paramref name="points"/> = N, features (B, N, C) or null: centroids (B, S, 3) and their features (B, S, C').</summary>
    public static (GraphValue Xyz, GraphValue Features) Write(this SetAbstraction level, IGraphWriter g, GraphValue xyz, GraphValue? features, long points)
    {
        GraphValue centres, grouped;
        if (level.Centroids is not { } count)
        {
            centres = xyz;   // not read after the last level (Run returns zeros there)
            grouped = g.Unsqueeze(features is { } f0 ? g.Concat(-1, xyz, f0) : xyz, 1);
        }
        else
        {
            var index = PointCloudGraph.FarthestPointSample(g, xyz, count);
            centres = PointCloudGraph.GatherRows(g, xyz, index);
            var groups = PointCloudGraph.BallQuery(g, xyz, centres, level.Radius, level.Samples, points);
            var local = g.Op("Sub", PointCloudGraph.GatherRows(g, xyz, groups), g.Unsqueeze(centres, 2));
            grouped = features is { } f ? g.Concat(-1, local, PointCloudGraph.GatherRows(g, f, groups)) : local;
        }
        var h = g.Transpose(grouped, 0, 3, 2, 1);
        foreach (var layer in level.Mlp) h = layer.WriteGraph(g, h);
        return (centres, g.Transpose(g.ReduceMax(h, [2]), 0, 2, 1));
    }
}

/// <summary>PointNet++ single-scale grouping classifier (Qi et al., NeurIPS 2017, the SSG ModelNet40 network).</summary>
public sealed class PointNet2SsgNetwork : nn.Module
{
    private readonly SetAbstraction sa1, sa2, sa3;
    private readonly FullyConnected fc1, fc2;
    private readonly ClassScores classifier;
    private readonly double dropout;
    private readonly int extraFeatures;

    public PointNet2SsgNetwork(int inputChannels, int classes, PointNet2SsgOptions o) : base("pointnet2_ssg")
    {
        long W(string layer, int paper) => o.ChannelWidths.TryGetValue(layer, out var w) ? w : PointNetNetwork.ScaledWidth(paper, o.WidthMultiplier);
        long[] Mlp(string level, params int[] paper) => paper.Select((c, i) => W($"{level}.mlp.mlp{i + 1}", c)).ToArray();
        extraFeatures = inputChannels - 3;
        sa1 = new SetAbstraction("sa1", o.Sa1Centroids, o.Sa1Radius, o.Sa1Samples, extraFeatures, Mlp("sa1", 64, 64, 128));
        sa2 = new SetAbstraction("sa2", o.Sa2Centroids, o.Sa2Radius, o.Sa2Samples, sa1.OutChannels, Mlp("sa2", 128, 128, 256));
        sa3 = new SetAbstraction("sa3", null, 0, 0, sa2.OutChannels, Mlp("sa3", 256, 512, 1024));
        fc1 = new FullyConnected("fc1", sa3.OutChannels, W("fc1", 512));
        fc2 = new FullyConnected("fc2", fc1.OutChannels, W("fc2", 256));
        classifier = new ClassScores("classifier", fc2.OutChannels, classes);
        dropout = o.Dropout;
        RegisterComponents();
    }

    /// <summary>
    /// Each grouped MLP layer's outputs, read by the next layer of its level; a level's last layer by the next level's first,
    /// after the 3 local coordinates it is concatenated behind (offset 3), and sa3's by fc1 (after the max); fc1's by fc2,
    /// fc2's by the classifier.
    /// </summary>
    public IEnumerable<ChannelGroup> ChannelGroups()
    {
        var levels = new[] { sa1, sa2, sa3 };
        for (var k = 0; k < levels.Length; k++)
        {
            var widths = levels[k].Widths;
            for (var i = 0; i < widths.Count; i++)
            {
                var layer = $"sa{k + 1}.mlp.mlp{i + 1}";
                var reader = i + 1 < widths.Count ? new ChannelMember($"sa{k + 1}.mlp.mlp{i + 2}.conv.weight", 1, ChannelRole.Consumer)
                    : k + 1 < levels.Length ? new ChannelMember($"sa{k + 2}.mlp.mlp1.conv.weight", 1, ChannelRole.Consumer, Offset: 3)
                    : new ChannelMember("fc1.linear.weight", 1, ChannelRole.Consumer);
                yield return new ChannelGroup(layer, widths[i],
                [
                    new($"{layer}.conv.weight", 0, ChannelRole.Producer),
                    .. ChannelGroup.NormTensors.Select(t => new ChannelMember($"{layer}.norm.{t}", 0, ChannelRole.Norm)),
                    reader,
                ]);
            }
        }
        yield return ChannelGroup.Chain("fc1", fc1.OutChannels, "fc1.linear", "fc1.norm", ["fc2.linear"]);
        yield return ChannelGroup.Chain("fc2", fc2.OutChannels, "fc2.linear", "fc2.norm", ["classifier.linear"]);
    }

    /// <summary>The eval-mode forward pass as ONNX operators: (B, C, N) points, N = <paramref name="points"/>, to logits.</summary>
    public GraphValue WriteGraph(IGraphWriter g, GraphValue input, long points)
    {
        var rows = g.Transpose(input, 0, 2, 1);
        var xyz = g.Slice(rows, 2, 0, 3);
        GraphValue? features = extraFeatures > 0 ? g.Slice(rows, 2, 3, long.MaxValue) : null;
        var (xyz1, f1) = sa1.Write(g, xyz, features, points);
        var (xyz2, f2) = sa2.Write(g, xyz1, f1, sa1.Centroids!.Value);
        var (_, f3) = sa3.Write(g, xyz2, f2, sa2.Centroids!.Value);
        return classifier.WriteGraph(g, fc2.WriteGraph(g, fc1.WriteGraph(g, g.Squeeze(f3, 1))));
    }

    /// <summary>The matrix layers in forward order (the three levels' MLPs, fc1, fc2, the classifier): what network augmentation widens.</summary>
    public IReadOnlyList<IMatrixLayer> Trunk => [.. sa1.Mlp, .. sa2.Mlp, .. sa3.Mlp, fc1, fc2, classifier];

    /// <summary>(B, C, N) points, xyz first: logits (B, classes).</summary>
    public Tensor Run(Tensor points)
    {
        var trunk = Trunk;
        return Run(points, (index, x) => ((nn.Module<Tensor, Tensor>)trunk[index]).forward(x), training);
    }

    /// <summary>The forward pass with <paramref name="layer"/>(i, x) applying <see cref="Trunk"/>[i] (network augmentation runs wider layers).</summary>
    public Tensor Run(Tensor points, Func<int, Tensor, Tensor> layer, bool training)
    {
        var rows = points.transpose(1, 2);                                                      // (B, N, C)
        var xyz = rows[TensorIndex.Ellipsis, TensorIndex.Slice(0, 3)].contiguous();
        Tensor? features = extraFeatures > 0 ? rows[TensorIndex.Ellipsis, TensorIndex.Slice(3, null)] : null;
        var first2 = sa1.Widths.Count;
        var first3 = first2 + sa2.Widths.Count;
        var firstHead = first3 + sa3.Widths.Count;
        var (xyz1, f1) = sa1.Run(xyz, features, layer);
        var (xyz2, f2) = sa2.Run(xyz1, f1, (i, x) => layer(first2 + i, x));
        var (_, f3) = sa3.Run(xyz2, f2, (i, x) => layer(first3 + i, x));
        var h = nn.functional.dropout(layer(firstHead, f3.squeeze(1)), dropout, training);
        h = nn.functional.dropout(layer(firstHead + 1, h), dropout, training);
        return layer(firstHead + 2, h);
    }
}

/// <summary>PointNet++ SSG classifier; supports network augmentation (T3DNet's backbone in its paper).</summary>
public sealed class PointNet2SsgModel : ModelBase, IChannelPrunable, IGraphExportable, IWidthAugmentable
{
    private readonly PointNet2SsgOptions options;
    private readonly PointNet2SsgNetwork network;
    private readonly int channels;

    public PointNet2SsgModel(PointNet2SsgOptions options, DatasetInfo dataset) : base("pointnet2-ssg", options, dataset)
    {
        if (dataset.Task != ModelTask.Classification)
            throw new ArgumentException($"PointNet++ classifies shapes; dataset '{dataset.Name}' is a {dataset.Task} dataset.");
        if (options.Sa1Centroids > options.NumPoints || options.Sa2Centroids > options.Sa1Centroids)
            throw new ArgumentException($"PointNet++ options: need Sa2Centroids ({options.Sa2Centroids}) <= Sa1Centroids ({options.Sa1Centroids}) <= NumPoints ({options.NumPoints}).");
        this.options = options;
        channels = Math.Max(3, dataset.PointFeatures);
        ChannelSurgery.CheckWidths("PointNet++", nameof(options.ChannelWidths), options.ChannelWidths);
        network = new PointNet2SsgNetwork(channels, dataset.ClassNames.Count, options);
        augmentation = new AugmentationSlot(network, () => network.Trunk);
        ChannelSurgery.CheckWidths("PointNet++", nameof(options.ChannelWidths), options.ChannelWidths, ChannelGroups);
        this.dataset = dataset;
    }

    private readonly DatasetInfo dataset;
    private readonly AugmentationSlot augmentation;
    private IReadOnlyList<ChannelGroup>? _groups;

    public IReadOnlyList<ChannelGroup> ChannelGroups => _groups ??= network.ChannelGroups().ToList();

    public IModel WithChannels(IReadOnlyDictionary<string, long[]> kept) =>
        ChannelSurgery.Rebuild<PointNet2SsgOptions>(this, kept, o => o.ChannelWidths, o => new PointNet2SsgModel(o, dataset));

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => network;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];

    /// <summary>A grouped-MLP weight is used once per (centroid, neighbour); SA3 groups all SA2 centroids into one set.</summary>
    protected override double FlopsPerWeight(string layerName, nn.Module layer)
    {
        if (layer is not Conv2d) return 1;
        if (layerName.StartsWith("sa1.", StringComparison.Ordinal)) return (double)options.Sa1Centroids * options.Sa1Samples;
        if (layerName.StartsWith("sa2.", StringComparison.Ordinal)) return (double)options.Sa2Centroids * options.Sa2Samples;
        return options.Sa2Centroids;
    }

    /// <summary>Sampling and grouping: FPS and ball query each compute 3 multiply-adds per (centroid, point) distance.</summary>
    public override double OtherFlopsPerSample =>
        2.0 * 3 * ((double)options.Sa1Centroids * options.NumPoints + (double)options.Sa2Centroids * options.Sa1Centroids);

    /// <summary>The point subset is seeded by the sample id (ClassificationBatch): no shared random state.</summary>
    public override bool CollatesOffThread => true;

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) =>
        ClassificationBatch.Collate(samples, options.NumPoints, channels, device);

    public override ModelOutput Forward(ModelBatch batch) =>
        new(new Dictionary<string, Tensor> { ["logits"] = network.Run(batch["points"]) });

    /// <summary>Points (B, C, NumPoints; any B) to "logits": sampling and grouping sizes fix the point count.</summary>
    public void WriteGraph(IGraphWriter graph, ModelBatch example) =>
        graph.Output("logits", network.WriteGraph(graph, ClassificationBatch.PointsInput(graph, channels, options.NumPoints), options.NumPoints));

    public override LossTerms Loss(ModelOutput output, ModelBatch batch)
    {
        ClassificationBatch.CheckLabels(batch, Spec.Dataset.ClassNames.Count);
        var loss = nn.functional.cross_entropy(output["logits"], batch["labels"]);
        return new LossTerms(loss, new Dictionary<string, double> { ["classification"] = loss.item<float>() });
    }

    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => ClassificationBatch.Predict(output["logits"]);

    // ---- network augmentation (IWidthAugmentable) ----

    public void EnableAugmentation(double maxWidthFactor) => augmentation.Enable(maxWidthFactor);

    public IReadOnlyList<Parameter> AugmentationParameters => augmentation.Parameters;

    /// <summary>The augmentation in use (null when disabled): exposes the augmented weights for inspection.</summary>
    public NetworkAugmentation? Augmentation => augmentation.Current;

    // The uniformly wider network: every augmented layer at the same factor.
    public ModelOutput ForwardAugmented(ModelBatch batch, double widthFactor) =>
        ForwardAugmented(batch, Enumerable.Repeat(widthFactor, AugmentedLayerCount).ToArray());

    public int AugmentedLayerCount => augmentation.LayerCount;

    public ModelOutput ForwardAugmented(ModelBatch batch, IReadOnlyList<double> layerWidthFactors) =>
        new(new Dictionary<string, Tensor> { ["logits"] = network.Run(batch["points"], augmentation.LayerAt(layerWidthFactors), network.training) });

    public void DisableAugmentation() => augmentation.Dispose();

    public override void Dispose()
    {
        DisableAugmentation();
        base.Dispose();
    }
}
