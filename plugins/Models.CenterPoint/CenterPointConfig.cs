namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// A fully resolved configuration: the preset's values with the options' overrides laid on top, checked
/// once, plus the grid sizes that follow from them (pillar grid, feature-map grid and stride).
/// </summary>
public sealed record CenterPointConfig
{
    public static readonly float[] KittiRange = [0f, -39.68f, -3f, 69.12f, 39.68f, 1f];

    public required float[] PointCloudRange { get; init; }
    public required double PillarSize { get; init; }
    public required int MaxPointsPerPillar { get; init; }
    public required int MaxPillars { get; init; }
    public required int PillarChannels { get; init; }
    public required int[] LayerNums { get; init; }
    public required int[] LayerStrides { get; init; }
    public required int[] Filters { get; init; }
    public required int[] UpsampleStrides { get; init; }
    public required int[] UpsampleFilters { get; init; }
    public required int SharedConvChannels { get; init; }
    public required int HeadConvLayers { get; init; }
    public required double GaussianOverlap { get; init; }
    public required int MinRadius { get; init; }
    public required double HeatmapWeight { get; init; }
    public required double RegressionWeight { get; init; }
    public required int MaxDetections { get; init; }
    public required double ScoreThreshold { get; init; }
    public required string NmsType { get; init; }
    public required double NmsThreshold { get; init; }
    public required double BatchNormMomentum { get; init; }

    /// <summary>Single layers' widths by channel-group name (<see cref="LayerNames"/>), over the per-part widths above: a channel-pruned model's.</summary>
    public IReadOnlyDictionary<string, int> ChannelWidths { get; init; } = new Dictionary<string, int>();

    /// <summary>The output width of layer <paramref name="layer"/>: its own entry in <see cref="ChannelWidths"/>, else the part's <paramref name="configured"/>.</summary>
    public int Width(string layer, int configured) => ChannelWidths.TryGetValue(layer, out var w) ? w : configured;

    /// <summary>Pillar grid columns (x) and rows (y).</summary>
    public int GridX => (int)Math.Round((PointCloudRange[3] - PointCloudRange[0]) / PillarSize);
    public int GridY => (int)Math.Round((PointCloudRange[4] - PointCloudRange[1]) / PillarSize);

    /// <summary>Pillar cells per feature-map cell: the first stage's stride over its upsampling.</summary>
    public int FeatureStride => LayerStrides[0] / UpsampleStrides[0];
    public int FeatureX => GridX / FeatureStride;
    public int FeatureY => GridY / FeatureStride;

    /// <summary>Metres per feature-map cell.</summary>
    public double CellSize => PillarSize * FeatureStride;

    public static CenterPointConfig Resolve(CenterPointOptions options, float[]? datasetRange)
    {
        var preset = (options.Preset ?? "").Trim().ToLowerInvariant() switch
        {
            "kitti" => Kitti,
            "kitti-small" => KittiSmall,
            _ => throw new ArgumentException($"CenterPoint option Preset='{options.Preset}' is unknown; use 'kitti-small' or 'kitti'."),
        };
        var config = preset with
        {
            PointCloudRange = options.PointCloudRange ?? datasetRange ?? KittiRange,
            PillarSize = options.PillarSize ?? preset.PillarSize,
            MaxPointsPerPillar = options.MaxPointsPerPillar ?? preset.MaxPointsPerPillar,
            MaxPillars = options.MaxPillars ?? preset.MaxPillars,
            PillarChannels = options.PillarChannels ?? preset.PillarChannels,
            LayerNums = options.LayerNums ?? preset.LayerNums,
            LayerStrides = options.LayerStrides ?? preset.LayerStrides,
            Filters = options.Filters ?? preset.Filters,
            UpsampleStrides = options.UpsampleStrides ?? preset.UpsampleStrides,
            UpsampleFilters = options.UpsampleFilters ?? preset.UpsampleFilters,
            SharedConvChannels = options.SharedConvChannels ?? preset.SharedConvChannels,
            HeadConvLayers = options.HeadConvLayers ?? preset.HeadConvLayers,
            GaussianOverlap = options.GaussianOverlap ?? preset.GaussianOverlap,
            MinRadius = options.MinRadius ?? preset.MinRadius,
            HeatmapWeight = options.HeatmapWeight ?? preset.HeatmapWeight,
            RegressionWeight = options.RegressionWeight ?? preset.RegressionWeight,
            MaxDetections = options.MaxDetections ?? preset.MaxDetections,
            ScoreThreshold = options.ScoreThreshold ?? preset.ScoreThreshold,
            NmsType = (options.NmsType ?? preset.NmsType).Trim().ToLowerInvariant(),
            NmsThreshold = options.NmsThreshold ?? preset.NmsThreshold,
            BatchNormMomentum = options.BatchNormMomentum ?? preset.BatchNormMomentum,
            ChannelWidths = new Dictionary<string, int>(options.ChannelWidths ?? []),
        };
        config.Validate();
        return config;
    }

    /// <summary>OpenPCDet's KITTI pillar models: 0.16 m pillars, [3,5,5] x [64,128,256], neck to stride 2 (cfgs/kitti_models/pointpillar.yaml, centerpoint.yaml).</summary>
    public static CenterPointConfig Kitti { get; } = new()
    {
        PointCloudRange = KittiRange,
        PillarSize = 0.16,
        MaxPointsPerPillar = 32,
        MaxPillars = 16000,
        PillarChannels = 64,
        LayerNums = [3, 5, 5],
        LayerStrides = [2, 2, 2],
        Filters = [64, 128, 256],
        UpsampleStrides = [1, 2, 4],
        UpsampleFilters = [128, 128, 128],
        SharedConvChannels = 64,
        HeadConvLayers = 1,
        GaussianOverlap = 0.1,
        MinRadius = 2,
        HeatmapWeight = 1,
        RegressionWeight = 2,
        MaxDetections = 500,
        ScoreThreshold = 0.1,
        NmsType = "rotated",
        NmsThreshold = 0.1,
        BatchNormMomentum = 0.1,
    };

    /// <summary>The same family at 0.32 m pillars and about a quarter of the channels: a CPU-trainable size.</summary>
    public static CenterPointConfig KittiSmall { get; } = Kitti with
    {
        PillarSize = 0.32,
        MaxPointsPerPillar = 16,
        MaxPillars = 8000,
        PillarChannels = 32,
        LayerNums = [1, 2, 2],
        Filters = [32, 64, 96],
        UpsampleFilters = [32, 32, 32],
        SharedConvChannels = 32,
        // Output convs straight after the shared conv: the five hidden 3x3 convs would be a third of the MACs.
        HeadConvLayers = 0,
        MinRadius = 1,
        MaxDetections = 100,
    };

    private void Validate()
    {
        void Fail(string message) => throw new ArgumentException("CenterPoint options: " + message);
        if (PointCloudRange.Length != 6) Fail($"PointCloudRange needs 6 values [xmin,ymin,zmin,xmax,ymax,zmax], got {PointCloudRange.Length}.");
        if (PointCloudRange[3] <= PointCloudRange[0] || PointCloudRange[4] <= PointCloudRange[1] || PointCloudRange[5] <= PointCloudRange[2])
            Fail($"PointCloudRange [{string.Join(", ", PointCloudRange)}] has a max not above its min.");
        if (PillarSize <= 0) Fail($"PillarSize must be positive, got {PillarSize}.");
        var stages = LayerNums.Length;
        if (stages == 0) Fail("LayerNums is empty: the backbone needs at least one stage.");
        if (LayerStrides.Length != stages || Filters.Length != stages || UpsampleStrides.Length != stages || UpsampleFilters.Length != stages)
            Fail($"LayerNums, LayerStrides, Filters, UpsampleStrides and UpsampleFilters must have one entry per stage; lengths are {LayerNums.Length}, {LayerStrides.Length}, {Filters.Length}, {UpsampleStrides.Length}, {UpsampleFilters.Length}.");
        if (LayerStrides.Concat(UpsampleStrides).Concat(Filters).Concat(UpsampleFilters).Any(v => v < 1) || LayerNums.Any(v => v < 0))
            Fail("strides and channel counts must be >= 1 and LayerNums >= 0.");
        long down = 1;
        for (var i = 0; i < stages; i++)
        {
            down *= LayerStrides[i];
            // Every stage must come back to the first stage's grid, or the neck cannot concatenate them.
            if (down % UpsampleStrides[i] != 0 || down / UpsampleStrides[i] != FeatureStride)
                Fail($"stage {i} is downsampled {down}x and upsampled {UpsampleStrides[i]}x; every stage must land on stride {FeatureStride} (the first stage's).");
        }
        if (LayerStrides[0] % UpsampleStrides[0] != 0) Fail("the first stage's stride must be a multiple of its upsampling.");
        if (GridX % down != 0 || GridY % down != 0)
            Fail($"the pillar grid {GridX}x{GridY} (range / PillarSize) must be divisible by the backbone's total stride {down}.");
        if (NmsType is not ("rotated" or "circle")) Fail($"NmsType='{NmsType}' is unknown; use 'rotated' or 'circle'.");
    }
}

/// <summary>
/// The names of CenterPoint's conv layers whose outputs are channel groups, as their parameters are named in the module
/// tree: what <see cref="CenterPointConfig.ChannelWidths"/> is keyed by and what the network and its groups agree on.
/// </summary>
internal static class LayerNames
{
    public const string PillarNet = "pfn";
    public const string SharedConv = "head.shared.0";

    /// <summary>Conv <paramref name="k"/> of backbone stage <paramref name="stage"/> (0: the strided one), in its Sequential of conv, norm, ReLU.</summary>
    public static string BlockConv(int stage, int k) => $"backbone.blocks.{stage}.{3 * k}";

    public static string Deblock(int stage) => $"backbone.deblocks.{stage}.0";

    /// <summary>Conv <paramref name="k"/> of the head branch <paramref name="branch"/> before its output conv.</summary>
    public static string HeadConv(string branch, int k) => $"head.heads.{branch}.{3 * k}";

    /// <summary>The module after a conv of these Sequentials: its batch norm.</summary>
    public static string NormAfter(string conv)
    {
        var dot = conv.LastIndexOf('.');
        return $"{conv[..dot]}.{int.Parse(conv[(dot + 1)..], System.Globalization.CultureInfo.InvariantCulture) + 1}";
    }
}
