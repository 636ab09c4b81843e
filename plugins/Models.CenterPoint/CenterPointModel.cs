using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// CenterPoint (Yin, Zhou, Krähenbühl, "Center-based 3D Object Detection and Tracking", CVPR 2021) with a
/// PointPillars encoder, one task over all of the dataset's classes (as OpenPCDet's KITTI config).
/// Batch tensors: pillars (points, counts, coords) and, when the samples carry boxes, the targets.
/// Outputs: hm (class logits), center, center_z, dim (log l, w, h), rot (sin, cos), all [B, C, H, W].
/// </summary>
public sealed class CenterPointModel : ModelBase, IDescribesInput, IChannelPrunable, IGraphExportable, IStagedForward
{
    public const string Name = "centerpoint";

    private readonly CenterPointNet _net;
    private readonly LayerUse _use = new();
    private readonly PillarVoxelizer _voxelizer;
    private readonly GaussianHeatmapTarget _targets;
    private readonly CenterPointDecoder _decoder;

    public CenterPointModel(CenterPointOptions options, DatasetInfo dataset) : base(Name, options, dataset)
    {
        if (dataset.ClassNames.Count == 0) throw new ArgumentException($"CenterPoint needs the dataset's class names; dataset '{dataset.Name}' lists none.");
        var range = dataset.PointCloudRange
                    ?? throw new ArgumentException($"CenterPoint needs the dataset's point-cloud range (DatasetInfo.PointCloudRange); dataset '{dataset.Name}' gives none.");
        // The model's own copy, as its spec records it: a caller changing its options object later changes nothing here.
        Options = System.Text.Json.JsonSerializer.Deserialize<CenterPointOptions>(Spec.OptionsJson)!;
        Grid = Options.Check(range);
        Classes = dataset.ClassNames.Count;
        _net = new CenterPointNet(Options, Grid, Classes, _use);
        _voxelizer = new PillarVoxelizer(Options.PillarEncoder, Grid);
        _targets = new GaussianHeatmapTarget(Options.Targets, Grid, Classes);
        _decoder = new CenterPointDecoder(Options.PostProcessing, Grid);
        _dataset = dataset;
    }

    private readonly DatasetInfo _dataset;
    private IReadOnlyList<ChannelGroup>? _groups;

    /// <summary>The pillar net's, every backbone conv's and deblock's, the shared head conv's and the branch convs' output channels.</summary>
    public IReadOnlyList<ChannelGroup> ChannelGroups => _groups ??= _net.ChannelGroups(Options);

    /// <summary>The rebuild's options hold each kept group's width in the part it belongs to (<see cref="CenterPointOptions.SetChannels"/>).</summary>
    public IModel WithChannels(IReadOnlyDictionary<string, long[]> kept) =>
        ChannelSurgery.Rebuild<CenterPointOptions>(this, kept, (o, group, width) => o.SetChannels(group, width), o => new CenterPointModel(o, _dataset));

    /// <summary>The options this model was built from (read back from its spec).</summary>
    public CenterPointOptions Options { get; }

    /// <summary>The pillar grid and feature map over the dataset's range.</summary>
    public BevGrid Grid { get; }
    public int Classes { get; }
    public override ModelTask Task => ModelTask.Detection3D;
    public override nn.Module Module => _net;

    /// <summary>BatchNorm scale-and-shift, one MAC per element it normalises (pillar-net norm counted at the configured cap).</summary>
    public override double OtherFlopsPerSample => _use.NormElements;

    // Raw head outputs, heatmap logits included, as DM3D's detection distortion uses them. Through a
    // sigmoid, the ~99.9% background cells (sigmoid' ~ 0) would swamp the few object peaks, and pruning
    // that erases every peak would look nearly free (measured: the hm conv pruned to 98%, AP 0).
    public override IReadOnlyList<DistortionOutput> DistortionOutputs { get; } =
    [
        new("hm", DistortionGroup.Confidence),
        new("center", DistortionGroup.Locality), new("center_z", DistortionGroup.Locality),
        new("dim", DistortionGroup.Locality), new("rot", DistortionGroup.Locality),
    ];

    protected override double FlopsPerWeight(string layerName, nn.Module layer)
    {
        if (_use.UsesPerPillar.TryGetValue(layer, out var perPillar)) _usesPerPillar[layerName] = perPillar;
        return _use.FlopsPerWeight.TryGetValue(layer, out var flops) ? flops
            : throw new InvalidOperationException($"CenterPoint layer '{layerName}' has no recorded FLOPs per weight.");
    }

    private readonly Dictionary<string, double> _usesPerPillar = new(StringComparer.Ordinal);

    /// <summary>
    /// The pillar net at a measured number of non-empty pillars instead of MaxPillars (issue 10 §2): its linear
    /// layer and norm run once per point slot of each non-empty pillar; every other layer runs on the full grid.
    /// </summary>
    public InputCosts? CostsAt(IReadOnlyDictionary<string, double> input)
    {
        if (!input.TryGetValue("nonEmptyPillars", out var pillars)) return null;
        _ = PrunableLayers; // fills _usesPerPillar
        var perWeight = _usesPerPillar.ToDictionary(kv => kv.Key, kv => pillars * kv.Value);
        var other = _use.NormElements - (Options.PillarEncoder.MaxPillars - pillars) * _use.NormElementsPerPillar;
        return new InputCosts(perWeight, other);
    }

    /// <summary>Voxelization and target drawing read only the samples and draw no random numbers.</summary>
    public override bool CollatesOffThread => true;

    public override ModelBatch CollateInputs(IReadOnlyList<Sample> samples, Device device) => new(samples, Pillars(samples, device));

    private Dictionary<string, Tensor> Pillars(IReadOnlyList<Sample> samples, Device device)
    {
        if (samples.Count == 0) throw new ArgumentException("CenterPoint cannot collate an empty batch.");
        var pillars = _voxelizer.Voxelize(samples.Select(s => s.Points).ToArray(), samples[0].PointFeatures, device);
        return new Dictionary<string, Tensor>
        {
            ["pillar_points"] = pillars.Points,
            ["pillar_counts"] = pillars.Counts,
            ["pillar_coords"] = pillars.Coords,
        };
    }

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device)
    {
        var tensors = Pillars(samples, device);

        // Targets: heatmaps [B,K,H,W]; per-object cell index, mask and 8 regression values padded to the batch's most objects.
        var frames = samples.Select(s => _targets.Build(s.Boxes)).ToArray();
        var maxObjects = Math.Max(1, frames.Max(f => f.Indices.Length));
        var index = new long[samples.Count * maxObjects];
        var mask = new float[samples.Count * maxObjects];
        var regression = new float[samples.Count * maxObjects * GaussianHeatmapTarget.RegressionSize];
        for (var i = 0; i < frames.Length; i++)
        {
            for (var o = 0; o < frames[i].Indices.Length; o++)
            {
                index[i * maxObjects + o] = frames[i].Indices[o];
                mask[i * maxObjects + o] = 1;
                frames[i].Regression[o].CopyTo(regression, (i * maxObjects + o) * GaussianHeatmapTarget.RegressionSize);
            }
        }
        var heatmap = frames.SelectMany(f => f.Heatmap).ToArray();
        tensors["target_hm"] = tensor(heatmap, [samples.Count, Classes, Grid.FeatureY, Grid.FeatureX]).to(device);
        tensors["target_index"] = tensor(index, [samples.Count, maxObjects]).to(device);
        tensors["target_mask"] = tensor(mask, [samples.Count, maxObjects]).to(device);
        tensors["target_box"] = tensor(regression, [samples.Count, maxObjects, GaussianHeatmapTarget.RegressionSize]).to(device);
        return new ModelBatch(samples, tensors);
    }

    /// <summary>What the pillar encoder really processed: it runs once per non-empty pillar, not once per pillar slot.</summary>
    public IReadOnlyDictionary<string, double> DescribeInput(ModelBatch batch)
    {
        double frames = batch.Samples.Count;
        var pillars = batch["pillar_counts"].shape[0];
        var costs = CostsAt(new Dictionary<string, double> { ["nonEmptyPillars"] = pillars / frames })!;
        return new Dictionary<string, double>
        {
            ["points"] = batch.Samples.Sum(s => s.PointCount) / frames,
            ["nonEmptyPillars"] = pillars / frames,
            ["pointsInPillars"] = batch["pillar_counts"].sum().item<long>() / frames,
            ["encoderFlopsAtThisInput"] = ModelStats.Layers(this, costs).Where(l => costs.FlopsPerWeight.ContainsKey(l.Name)).Sum(l => l.Flops),
        };
    }

    public override ModelOutput Forward(ModelBatch batch) => new(_net.forward(PillarsOf(batch), batch.Samples.Count));

    private static Pillars PillarsOf(ModelBatch batch) => new(batch["pillar_points"], batch["pillar_counts"], batch["pillar_coords"]);

    // ---- IStagedForward: the pillar net, each backbone stage's block and deblock, the shared conv, the branches ----

    public int StageCount => _net.StageCount;

    public int StageOf(string layer) => _net.StageOf(layer);

    public IReadOnlyList<Tensor> Enter(int stage, ModelBatch batch) => _net.RunStages(0, stage, [], PillarsOf(batch), batch.Samples.Count);

    public ModelOutput ForwardFrom(int stage, IReadOnlyList<Tensor> state, ModelBatch batch) =>
        new(_net.ForwardFrom(stage, state, PillarsOf(batch), batch.Samples.Count));

    /// <summary>
    /// One frame's pillars (the tensors <see cref="CollateInputs"/> makes; any number of pillars) to the head's maps: hm,
    /// center, center_z, dim, rot. The scatter to the pseudo-image is inside the graph; voxelization and decoding are not.
    /// </summary>
    public void WriteGraph(IGraphWriter graph, ModelBatch example)
    {
        var features = example["pillar_points"].shape[2];
        long maxPoints = Options.PillarEncoder.MaxPointsPerPillar;
        var points = graph.Input("pillar_points", ScalarType.Float32, [null, maxPoints, features], ["pillars"]);
        var counts = graph.Input("pillar_counts", ScalarType.Int64, [null], ["pillars"]);
        var coords = graph.Input("pillar_coords", ScalarType.Int64, [null, 3], ["pillars"]);
        _net.WriteGraph(graph, points, counts, coords, maxPoints);
    }

    /// <summary>The pillar scatter of the exported graph writes one frame's canvas.</summary>
    public int? GraphBatchSize => 1;

    public override LossTerms Loss(ModelOutput output, ModelBatch batch)
    {
        var heatmapLoss = CenterPointLoss.Focal(output["hm"], batch["target_hm"]);
        var prediction = cat(CenterHead.RegressionHeads.Select(h => output[h.Name]).ToList(), 1);   // [B, 8, H, W]
        var parts = CenterPointLoss.RegressionL1(prediction, batch["target_index"], batch["target_mask"], batch["target_box"]);  // [8]
        var loc = parts.sum();
        var total = heatmapLoss * Options.Head.HeatmapWeight + loc * Options.Head.RegressionWeight;
        var p = parts.detach().cpu().data<float>().ToArray();
        return new LossTerms(total, new Dictionary<string, double>
        {
            ["hm"] = heatmapLoss.item<float>(),
            ["loc"] = loc.item<float>(),
            ["offset"] = p[0] + p[1],
            ["z"] = p[2],
            ["dim"] = p[3] + p[4] + p[5],
            ["rot"] = p[6] + p[7],
        });
    }

    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) =>
        _decoder.Decode(output.Tensors).Select(boxes => new Prediction { Boxes = boxes }).ToArray();
}

/// <summary>The losses of CenterNet (Zhou et al. 2019, eq. 1) and CenterPoint (sec. 4).</summary>
public static class CenterPointLoss
{
    /// <summary>
    /// Penalty-reduced focal loss on heatmap logits, eq. 1 of CenterNet with α = 2, β = 4:
    /// −1/N Σ [y=1] (1−p)^α log p + [y&lt;1] (1−y)^β p^α log(1−p), N = number of centres (at least 1).
    /// </summary>
    public static Tensor Focal(Tensor logits, Tensor target)
    {
        var p = logits.sigmoid().clamp(1e-4, 1 - 1e-4);
        var positive = target.eq(1).to_type(p.dtype);
        var negative = 1 - positive;
        var positiveLoss = (p.log() * (1 - p).square() * positive).sum();
        var negativeLoss = ((1 - p).log() * p.square() * (1 - target).pow(4) * negative).sum();
        var count = positive.sum().clamp_min(1);
        return -(positiveLoss + negativeLoss) / count;
    }

    /// <summary>
    /// Masked L1 at object centres (OpenPCDet RegLossCenterNet): the prediction map [B, C, H, W] is read at each
    /// object's cell; returns the per-channel loss [C], summed over objects and divided by their number.
    /// </summary>
    public static Tensor RegressionL1(Tensor prediction, Tensor index, Tensor mask, Tensor target)
    {
        long b = prediction.shape[0], c = prediction.shape[1];
        var gathered = prediction.reshape(b, c, -1).gather(2, index.unsqueeze(1).expand(-1, c, -1)).permute(0, 2, 1);   // [B, O, C]
        var m = mask.unsqueeze(2);
        var l1 = ((gathered - target).abs() * m).sum([0, 1]);
        return l1 / mask.sum().clamp_min(1);
    }
}

/// <summary>Registers the CenterPoint model with the host.</summary>
public sealed class CenterPointPluginModule : Autofac.Module
{
    protected override void Load(ContainerBuilder builder) =>
        builder.RegisterModel<CenterPointModel, CenterPointOptions>(CenterPointModel.Name,
            "CenterPoint 3D detector with a PointPillars encoder (presets: kitti-small for CPU, kitti for GPU).");
}
