using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Abstractions.Components;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// Options of the <c>centerpoint</c> model, one block per part as OpenPCDet's model configs nest them (VFE, BACKBONE_2D,
/// DENSE_HEAD, TARGET_ASSIGNER_CONFIG, POST_PROCESSING); each part's options class sits next to the module it tunes.
/// The property defaults are the <c>kitti-small</c> preset; the host's binder starts from the preset a pipeline names and
/// lays the pipeline's keys over it (<see cref="IPresetOptions"/>). In code, start from <see cref="FromPreset(string)"/>.
/// The point-cloud range is the dataset's (<c>DatasetInfo.PointCloudRange</c>), not an option.
/// </summary>
public sealed class CenterPointOptions : IPresetOptions, IJsonOnDeserialized
{
    [Description("Configuration the other options start from: 'kitti-small' (coarse grid, narrow channels, trains on 2 CPU cores; the defaults below) or 'kitti' (OpenPCDet-size, 0.16 m pillars, for GPUs). Options set next to it override the preset's.")]
    public string Preset { get; set; } = "kitti-small";

    [Description("Voxelization and pillar feature net (PointPillars sec. 2.1).")]
    public PillarEncoderOptions PillarEncoder { get; set; } = new();

    [Description("2D backbone: strided stages of 3x3 convs.")]
    public BackboneOptions Backbone { get; set; } = new();

    [Description("Neck: transposed-conv upsampling of every stage to one grid, concatenated.")]
    public NeckOptions Neck { get; set; } = new();

    [Description("CenterHead: shared conv, one conv branch per output, loss weights.")]
    public HeadOptions Head { get; set; } = new();

    [Description("Gaussian heatmap targets (CenterNet's radius rule).")]
    public TargetOptions Targets { get; set; } = new();

    [Description("Decoding: top-K peaks, score threshold, per-class NMS.")]
    public PostProcessingOptions PostProcessing { get; set; } = new();

    [Description("BatchNorm momentum of every part (PyTorch convention: weight of the new batch in the running statistics).")]
    [Range(0.0, 1.0)]
    [JsonConverter(typeof(NullAsNaN))]
    public double BatchNormMomentum { get; set; } = 0.1;

    /// <summary>The presets, as data: <c>kitti-small</c> is the property defaults, <c>kitti</c> what differs from them.</summary>
    private static readonly Dictionary<string, Func<CenterPointOptions>> Presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["kitti-small"] = () => new CenterPointOptions(),
        // OpenPCDet's KITTI pillar models (cfgs/kitti_models/pointpillar.yaml, centerpoint.yaml).
        ["kitti"] = () => new CenterPointOptions
        {
            Preset = "kitti",
            PillarEncoder = new() { PillarSize = 0.16, MaxPointsPerPillar = 32, MaxPillars = 16000, Channels = 64 },
            Backbone = new() { LayerNums = [3, 5, 5], Filters = [64, 128, 256] },
            Neck = new() { UpsampleFilters = [128, 128, 128] },
            Head = new() { SharedConvChannels = 64, HeadConvLayers = 1 },
            Targets = new() { MinRadius = 2 },
            PostProcessing = new() { MaxDetections = 500 },
        },
    };

    /// <summary>New options holding preset <paramref name="name"/>'s values.</summary>
    public static CenterPointOptions FromPreset(string name) =>
        Presets.TryGetValue(name.Trim(), out var preset) ? preset()
            : throw new ArgumentException($"CenterPoint option Preset='{name}' is unknown; use {string.Join(" or ", Presets.Keys.Select(k => $"'{k}'"))}.");

    IReadOnlyList<string> IPresetOptions.PresetNames() => Presets.Keys.ToList();

    object? IPresetOptions.FromPreset(string name) => Presets.TryGetValue(name.Trim(), out var preset) ? preset() : null;

    /// <summary>
    /// Writes the width of channel group <paramref name="group"/> (a layer's name, <see cref="LayerNames"/>) into the part
    /// that owns it: what channel pruning's rebuild does, so the options (and a checkpoint's spec) hold the pruned widths.
    /// </summary>
    internal void SetChannels(string group, int width)
    {
        static int Index(string digits, string group) =>
            int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i
                : throw new ArgumentException($"CenterPoint has no channel group '{group}'.");
        switch (group.Split('.'))
        {
            case [LayerNames.PillarNet]:
                PillarEncoder.Channels = width;
                break;
            case ["backbone", "blocks", var stage, var conv] when Index(conv, group) % 3 == 0:
                Backbone.SetConvChannels(Index(stage, group), Index(conv, group) / 3, width);
                break;
            case ["backbone", "deblocks", var stage, "0"] when Index(stage, group) < Neck.UpsampleFilters.Length:
                Neck.UpsampleFilters = Neck.UpsampleFilters.Select((f, i) => i == Index(stage, group) ? width : f).ToArray();
                break;
            case ["head", "shared", "0"]:
                Head.SetSharedConvChannels(width);
                break;
            case ["head", "heads", var branch, var conv] when Index(conv, group) % 3 == 0:
                Head.SetBranchChannels(branch, Index(conv, group) / 3, width);
                break;
            default:
                throw new ArgumentException($"CenterPoint has no channel group '{group}'.");
        }
    }

    /// <summary>
    /// Checks what no single part can: one entry per stage in the backbone and the neck, every stage landing on the first
    /// stage's grid, a pillar grid the backbone's strides divide. Returns the grid over <paramref name="pointCloudRange"/>.
    /// </summary>
    internal BevGrid Check(float[] pointCloudRange)
    {
        void Fail(string message) => throw new ArgumentException("CenterPoint options: " + message);
        FromPreset(Preset);   // options built in code may name a preset that does not exist
        if (pointCloudRange.Length != 6) Fail($"the dataset's PointCloudRange needs 6 values [xmin,ymin,zmin,xmax,ymax,zmax], got {pointCloudRange.Length}.");
        if (pointCloudRange[3] <= pointCloudRange[0] || pointCloudRange[4] <= pointCloudRange[1] || pointCloudRange[5] <= pointCloudRange[2])
            Fail($"the dataset's PointCloudRange [{string.Join(", ", pointCloudRange)}] has a max not above its min.");
        if (PillarEncoder.PillarSize <= 0) Fail($"PillarEncoder:PillarSize must be positive, got {PillarEncoder.PillarSize}.");
        if (PillarEncoder.Channels < 1) Fail($"PillarEncoder:Channels must be >= 1, got {PillarEncoder.Channels}.");
        var (b, n) = (Backbone, Neck);
        var stages = b.LayerNums.Length;
        if (stages == 0) Fail("Backbone:LayerNums is empty: the backbone needs at least one stage.");
        if (b.LayerStrides.Length != stages || b.Filters.Length != stages || n.UpsampleStrides.Length != stages || n.UpsampleFilters.Length != stages)
            Fail($"Backbone:LayerNums, Backbone:LayerStrides, Backbone:Filters, Neck:UpsampleStrides and Neck:UpsampleFilters must have one entry per stage; lengths are {stages}, {b.LayerStrides.Length}, {b.Filters.Length}, {n.UpsampleStrides.Length}, {n.UpsampleFilters.Length}.");
        if (b.LayerStrides.Concat(n.UpsampleStrides).Concat(b.Filters).Concat(n.UpsampleFilters).Any(v => v < 1) || b.LayerNums.Any(v => v < 0))
            Fail("strides and channel counts must be >= 1 and Backbone:LayerNums >= 0.");
        if (b.ConvChannels.Length > 0 && (b.ConvChannels.Length != stages || b.ConvChannels.Where((w, i) => w.Length != b.LayerNums[i] + 1).Any()))
            Fail($"Backbone:ConvChannels needs one list per stage with LayerNums + 1 widths (the strided conv first), or none; LayerNums is [{string.Join(", ", b.LayerNums)}].");
        if (b.ConvChannels.SelectMany(w => w).Any(v => v < 1)) Fail("Backbone:ConvChannels must be >= 1.");
        if (b.LayerStrides[0] % n.UpsampleStrides[0] != 0) Fail("the first stage's stride must be a multiple of its upsampling.");
        var featureStride = b.LayerStrides[0] / n.UpsampleStrides[0];
        long down = 1;
        for (var i = 0; i < stages; i++)
        {
            down *= b.LayerStrides[i];
            // Every stage must come back to the first stage's grid, or the neck cannot concatenate them.
            if (down % n.UpsampleStrides[i] != 0 || down / n.UpsampleStrides[i] != featureStride)
                Fail($"stage {i} is downsampled {down}x and upsampled {n.UpsampleStrides[i]}x; every stage must land on stride {featureStride} (the first stage's).");
        }
        var grid = new BevGrid(pointCloudRange, PillarEncoder.PillarSize, featureStride);
        if (grid.GridX % down != 0 || grid.GridY % down != 0)
            Fail($"the pillar grid {grid.GridX}x{grid.GridY} (range / PillarEncoder:PillarSize) must be divisible by the backbone's total stride {down}.");
        if (Head.SharedConvChannels < 1) Fail($"Head:SharedConvChannels must be >= 1, got {Head.SharedConvChannels}.");
        if (Head.BranchChannels.Keys.FirstOrDefault(k => !CenterHead.BranchNames.Contains(k)) is { } unknown)
            Fail($"Head:BranchChannels names '{unknown}', which is not a branch of the head ({string.Join(", ", CenterHead.BranchNames)}).");
        if (Head.BranchChannels.Any(kv => kv.Value.Length != Head.HeadConvLayers || kv.Value.Any(v => v < 1)))
            Fail($"Head:BranchChannels needs HeadConvLayers ({Head.HeadConvLayers}) widths >= 1 per branch listed.");
        if (PostProcessing.NmsType is not ("rotated" or "circle")) Fail($"PostProcessing:NmsType='{PostProcessing.NmsType}' is unknown; use 'rotated' or 'circle'.");
        return grid;
    }

    // Checkpoints written before the options were nested by part (issue 16) hold the flat layout: every setting at the top,
    // null for "the preset's value", and single layers' widths in ChannelWidths by layer name. STJ hands the keys this class
    // no longer has to FlatOptions; OnDeserialized moves them to their parts.

    [JsonExtensionData, JsonInclude]
    internal Dictionary<string, JsonElement>? FlatOptions { get; set; }

    private static readonly Dictionary<string, Action<CenterPointOptions, JsonElement>> FlatKeys = new(StringComparer.Ordinal)
    {
        ["PillarSize"] = (o, v) => o.PillarEncoder.PillarSize = v.GetDouble(),
        ["MaxPointsPerPillar"] = (o, v) => o.PillarEncoder.MaxPointsPerPillar = v.GetInt32(),
        ["MaxPillars"] = (o, v) => o.PillarEncoder.MaxPillars = v.GetInt32(),
        ["PillarChannels"] = (o, v) => o.PillarEncoder.Channels = v.GetInt32(),
        ["LayerNums"] = (o, v) => o.Backbone.LayerNums = v.Deserialize<int[]>()!,
        ["LayerStrides"] = (o, v) => o.Backbone.LayerStrides = v.Deserialize<int[]>()!,
        ["Filters"] = (o, v) => o.Backbone.Filters = v.Deserialize<int[]>()!,
        ["UpsampleStrides"] = (o, v) => o.Neck.UpsampleStrides = v.Deserialize<int[]>()!,
        ["UpsampleFilters"] = (o, v) => o.Neck.UpsampleFilters = v.Deserialize<int[]>()!,
        ["SharedConvChannels"] = (o, v) => o.Head.SharedConvChannels = v.GetInt32(),
        ["HeadConvLayers"] = (o, v) => o.Head.HeadConvLayers = v.GetInt32(),
        ["HeatmapWeight"] = (o, v) => o.Head.HeatmapWeight = v.GetDouble(),
        ["RegressionWeight"] = (o, v) => o.Head.RegressionWeight = v.GetDouble(),
        ["GaussianOverlap"] = (o, v) => o.Targets.GaussianOverlap = v.GetDouble(),
        ["MinRadius"] = (o, v) => o.Targets.MinRadius = v.GetInt32(),
        ["MaxDetections"] = (o, v) => o.PostProcessing.MaxDetections = v.GetInt32(),
        ["ScoreThreshold"] = (o, v) => o.PostProcessing.ScoreThreshold = v.GetDouble(),
        ["NmsType"] = (o, v) => o.PostProcessing.NmsType = v.GetString()!,
        ["NmsThreshold"] = (o, v) => o.PostProcessing.NmsThreshold = v.GetDouble(),
        // Widths go last, over the settings they refine (a layer's width defaults to its stage's).
        ["ChannelWidths"] = (o, v) =>
        {
            foreach (var (layer, width) in v.Deserialize<Dictionary<string, int>>()!) o.SetChannels(layer, width);
        },
        ["PointCloudRange"] = (_, v) => throw new JsonException(
            $"CenterPoint options: this checkpoint sets its own PointCloudRange [{string.Join(", ", v.EnumerateArray())}]; the range is now the dataset's only."),
    };

    void IJsonOnDeserialized.OnDeserialized()
    {
        if (FlatOptions is not { Count: > 0 } flat)
        {
            FlatOptions = null;
            if (double.IsNaN(BatchNormMomentum)) throw new JsonException("CenterPoint options: BatchNormMomentum is null.");
            return;
        }
        FlatOptions = null;
        if (flat.Keys.FirstOrDefault(k => !FlatKeys.ContainsKey(k)) is { } unknown)
            throw new JsonException($"CenterPoint options: unknown key '{unknown}'.");
        var preset = FromPreset(Preset);
        (PillarEncoder, Backbone, Neck, Head, Targets, PostProcessing) = (preset.PillarEncoder, preset.Backbone, preset.Neck, preset.Head, preset.Targets, preset.PostProcessing);
        if (double.IsNaN(BatchNormMomentum)) BatchNormMomentum = preset.BatchNormMomentum;
        foreach (var (key, apply) in FlatKeys)
            if (flat.TryGetValue(key, out var value) && value.ValueKind != JsonValueKind.Null) apply(this, value);
    }

    /// <summary>The flat layout wrote null for "the preset's value"; read as NaN until <see cref="IJsonOnDeserialized.OnDeserialized"/> takes the preset's.</summary>
    internal sealed class NullAsNaN : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }
}
