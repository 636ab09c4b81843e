using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// Options of the <c>centerpoint</c> model. <see cref="Preset"/> picks a whole configuration; every other
/// property is an override: left unset (null) it takes the preset's value, set it replaces that value.
/// <see cref="PointCloudRange"/> unset takes the dataset's range, then the KITTI default.
/// </summary>
public sealed class CenterPointOptions
{
    [Description("Configuration to start from: 'kitti-small' (coarse grid, narrow channels, trains on 2 CPU cores) or 'kitti' (OpenPCDet-size, 0.16 m pillars, for GPUs). Any property below that is set overrides the preset.")]
    public string Preset { get; set; } = "kitti-small";

    [Description("Detection range [xmin, ymin, zmin, xmax, ymax, zmax] in metres, lidar frame (unset: the dataset's, else KITTI's [0,-39.68,-3,69.12,39.68,1]).")]
    public float[]? PointCloudRange { get; set; }

    [Description("Pillar edge in metres (x and y). Preset: kitti 0.16, kitti-small 0.32.")]
    [Range(0.01, 10.0)]
    public double? PillarSize { get; set; }

    [Description("Points kept per pillar (extra points are dropped, in input order). Preset: 32 / 16.")]
    [Range(1, 1024)]
    public int? MaxPointsPerPillar { get; set; }

    [Description("Pillars kept per frame (the most populated ones). Preset: 16000 / 8000.")]
    [Range(1, 1000000)]
    public int? MaxPillars { get; set; }

    [Description("Channels of the pillar feature net (linear + norm + ReLU, max over points). Preset: 64 / 32.")]
    [Range(1, 4096)]
    public int? PillarChannels { get; set; }

    [Description("3x3 convs after the strided conv in each backbone stage. Preset: [3,5,5] / [1,2,2].")]
    public int[]? LayerNums { get; set; }

    [Description("Stride of each backbone stage. Preset: [2,2,2].")]
    public int[]? LayerStrides { get; set; }

    [Description("Channels of each backbone stage. Preset: [64,128,256] / [32,64,96].")]
    public int[]? Filters { get; set; }

    [Description("Upsampling factor of each stage in the neck (all stages must land on the same grid). Preset: [1,2,4].")]
    public int[]? UpsampleStrides { get; set; }

    [Description("Channels of each upsampled stage in the neck (concatenated). Preset: [128,128,128] / [32,32,32].")]
    public int[]? UpsampleFilters { get; set; }

    [Description("Channels of the head's shared conv. Preset: 64 / 32.")]
    [Range(1, 4096)]
    public int? SharedConvChannels { get; set; }

    [Description("3x3 conv+BN+ReLU layers in each separate head before its output conv. Preset: 1 / 0.")]
    [Range(0, 8)]
    public int? HeadConvLayers { get; set; }

    [Description("Minimum IoU the Gaussian radius rule keeps between a box and a box shifted by the radius (CenterNet). Preset: 0.1.")]
    [Range(0.01, 0.99)]
    public double? GaussianOverlap { get; set; }

    [Description("Smallest heatmap Gaussian radius, in feature-map cells. Preset: 2 / 1.")]
    [Range(0, 100)]
    public int? MinRadius { get; set; }

    [Description("Weight of the heatmap focal loss. Preset: 1.")]
    [Range(0.0, 1000.0)]
    public double? HeatmapWeight { get; set; }

    [Description("Weight of the masked L1 regression loss (offset, z, log dims, sin/cos). Preset: 2.")]
    [Range(0.0, 1000.0)]
    public double? RegressionWeight { get; set; }

    [Description("Peaks kept per frame before the score threshold (top-K). Preset: 500 / 100.")]
    [Range(1, 100000)]
    public int? MaxDetections { get; set; }

    [Description("Detections scoring below this are dropped. Preset: 0.1.")]
    [Range(0.0, 1.0)]
    public double? ScoreThreshold { get; set; }

    [Description("Per-class suppression after decoding: 'rotated' (BEV rotated IoU) or 'circle' (centre distance, CenterPoint). Preset: rotated.")]
    public string? NmsType { get; set; }

    [Description("Rotated NMS: BEV IoU above which the lower-scoring box goes. Circle NMS: centre distance in metres. Preset: 0.1 (rotated).")]
    [Range(0.0, 100.0)]
    public double? NmsThreshold { get; set; }

    [Description("BatchNorm momentum (PyTorch convention: weight of the new batch in the running statistics). Preset: 0.1.")]
    [Range(0.0, 1.0)]
    public double? BatchNormMomentum { get; set; }

    [Description("Widths of single layers by channel-group name (e.g. 'backbone.blocks.1.3': 40, 'head.shared.0': 24), over the preset's and the overrides' widths: what channel pruning writes, so a pruned checkpoint rebuilds its own architecture. 'platform describe' lists no names; a pruned model's report does.")]
    public Dictionary<string, int> ChannelWidths { get; set; } = [];
}
