using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

public sealed class PointNetOptions
{
    [Description("Scales every hidden width (64, 128, 1024, 512, 256 and the T-Nets'); 1 is the published PointNet, 0.125 a tiny student.")]
    [Range(0.01, 8.0)]
    public double WidthMultiplier { get; set; } = 1.0;

    [Description("Points per shape fed to the network (clouds are subsampled or padded to this).")]
    [Range(8, 100000)]
    public int NumPoints { get; set; } = 1024;

    [Description("Use the input transform (3x3 T-Net on xyz).")]
    public bool InputTransform { get; set; } = true;

    [Description("Use the feature transform (k x k T-Net on the 64-channel features) and its orthogonality regularizer.")]
    public bool FeatureTransform { get; set; } = true;

    [Description("Weight of the regularizer ||I - A A^T||_F^2 on the feature transform (PointNet Eq. 2).")]
    [Range(0.0, 10.0)]
    public double OrthogonalityWeight { get; set; } = 0.001;

    [Description("Dropout probability before the last two layers of the classifier head.")]
    [Range(0.0, 0.95)]
    public double Dropout { get; set; } = 0.3;

    [Description("Widths of single layers by channel-group name (e.g. 'mlp5': 300, 'inputTransform.fc1': 128), overriding WidthMultiplier: what channel pruning writes, so a pruned checkpoint rebuilds its own architecture.")]
    public Dictionary<string, int> ChannelWidths { get; set; } = [];
}

/// <summary>PointNet classifier; supports network augmentation (its wider versions share its weights as leading slices).</summary>
public sealed class PointNetModel : ModelBase, IWidthAugmentable, IChannelPrunable, IGraphExportable
{
    private readonly PointNetOptions options;
    private readonly PointNetNetwork network;
    private readonly int channels;
    private readonly AugmentationSlot augmentation;

    public PointNetModel(PointNetOptions options, DatasetInfo dataset) : base("pointnet", options, dataset)
    {
        if (dataset.Task != ModelTask.Classification)
            throw new ArgumentException($"PointNet classifies shapes; dataset '{dataset.Name}' is a {dataset.Task} dataset.");
        if (dataset.ClassNames.Count < 2) throw new ArgumentException($"Dataset '{dataset.Name}' has {dataset.ClassNames.Count} classes; a classifier needs at least 2.");
        this.options = options;
        channels = Math.Max(3, dataset.PointFeatures);
        ChannelSurgery.CheckWidths("PointNet", nameof(options.ChannelWidths), options.ChannelWidths);
        network = new PointNetNetwork(channels, dataset.ClassNames.Count, options.WidthMultiplier, options.InputTransform, options.FeatureTransform, options.Dropout,
            options.ChannelWidths);
        augmentation = new AugmentationSlot(network, () => network.Trunk);
        ChannelSurgery.CheckWidths("PointNet", nameof(options.ChannelWidths), options.ChannelWidths, ChannelGroups);
        this.dataset = dataset;
    }

    private readonly DatasetInfo dataset;

    public PointNetOptions Options => options;
    public PointNetNetwork Network => network;
    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => network;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];

    /// <summary>Each shared-MLP weight is applied once per point; each fully connected weight once per shape.</summary>
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => layer is Conv1d ? options.NumPoints : 1;

    /// <summary>The transforms' matrix products, x A per point (Sec. 4.2), are MACs outside the prunable layers.</summary>
    public override double OtherFlopsPerSample =>
        (double)options.NumPoints * ((network.InputTransform is null ? 0 : 9) + (network.FeatureTransform is { } ft ? ft.K * ft.K : 0));

    /// <summary>The point subset is seeded by the sample id (ClassificationBatch): no shared random state.</summary>
    public override bool CollatesOffThread => true;

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) =>
        ClassificationBatch.Collate(samples, options.NumPoints, channels, device);

    public override ModelOutput Forward(ModelBatch batch) => Output(network.Run(batch["points"]));

    /// <summary>Points (B, C, N; any B and N) to "logits"; the feature transform, a training-loss input, is not exported.</summary>
    public void WriteGraph(IGraphWriter graph, ModelBatch example) =>
        graph.Output("logits", network.WriteGraph(graph, ClassificationBatch.PointsInput(graph, channels, null), channels));

    private static ModelOutput Output((Tensor Logits, Tensor? FeatureTransform) result)
    {
        var tensors = new Dictionary<string, Tensor> { ["logits"] = result.Logits };
        if (result.FeatureTransform is not null) tensors["feature_transform"] = result.FeatureTransform;
        return new ModelOutput(tensors);
    }

    public override LossTerms Loss(ModelOutput output, ModelBatch batch)
    {
        ClassificationBatch.CheckLabels(batch, Spec.Dataset.ClassNames.Count);
        var classification = nn.functional.cross_entropy(output["logits"], batch["labels"]);
        var terms = new Dictionary<string, double> { ["classification"] = classification.item<float>() };
        if (!output.Tensors.TryGetValue("feature_transform", out var a) || options.OrthogonalityWeight == 0)
            return new LossTerms(classification, terms);
        var orthogonality = OrthogonalityRegularizer(a);
        terms["orthogonality"] = orthogonality.item<float>();
        return new LossTerms(classification + orthogonality * options.OrthogonalityWeight, terms);
    }

    /// <summary>PointNet Eq. 2: ||I - A A^T||_F^2, averaged over the batch.</summary>
    public static Tensor OrthogonalityRegularizer(Tensor a)
    {
        var k = a.shape[1];
        var identity = eye(k, device: a.device).unsqueeze(0);
        return (identity - a.matmul(a.transpose(1, 2))).square().sum([1, 2]).mean();
    }

    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => ClassificationBatch.Predict(output["logits"]);

    // ---- structured pruning (IChannelPrunable) ----

    /// <summary>
    /// Every hidden layer's output channels, read by the next layer (after max pooling for mlp5 and the T-Nets' mlp3).
    /// mlp2's channels are left whole when the feature transform is on: its k x k matrix mixes them.
    /// </summary>
    public IReadOnlyList<ChannelGroup> ChannelGroups => _groups ??= FindChannelGroups();

    private IReadOnlyList<ChannelGroup>? _groups;

    private List<ChannelGroup> FindChannelGroups()
    {
        var groups = new List<ChannelGroup>();
        if (network.InputTransform is { } input) groups.AddRange(input.ChannelGroups("inputTransform."));
        if (network.FeatureTransform is { } feature) groups.AddRange(feature.ChannelGroups("featureTransform."));
        string[] names = ["mlp1", "mlp2", "mlp3", "mlp4", "mlp5", "fc1", "fc2", "classifier"];
        groups.AddRange(PointNetLayerChain.Groups("", names.Zip(network.Trunk, (n, l) => (n, (nn.Module)l)).ToArray())
            .Where(g => network.FeatureTransform is null || g.Name != "mlp2"));
        return groups;
    }

    public IModel WithChannels(IReadOnlyDictionary<string, long[]> kept) =>
        ChannelSurgery.Rebuild<PointNetOptions>(this, kept, o => o.ChannelWidths, o => new PointNetModel(o, dataset));

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
        Output(network.Run(batch["points"], augmentation.LayerAt(layerWidthFactors), network.training));

    public void DisableAugmentation() => augmentation.Dispose();

    public override void Dispose()
    {
        DisableAugmentation();
        base.Dispose();
    }
}
