using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>Options of decoding (<see cref="CenterPointDecoder"/>; OpenPCDet's POST_PROCESSING).</summary>
public sealed class PostProcessingOptions
{
    [Description("Peaks kept per frame before the score threshold (top-K). kitti: 500.")]
    [Range(1, 100000)]
    public int MaxDetections { get; set; } = 100;

    [Description("Detections scoring below this are dropped.")]
    [Range(0.0, 1.0)]
    public double ScoreThreshold { get; set; } = 0.1;

    private string _nmsType = "rotated";

    [Description("Per-class suppression after decoding: 'rotated' (BEV rotated IoU) or 'circle' (centre distance, CenterPoint).")]
    public string NmsType { get => _nmsType; set => _nmsType = (value ?? "").Trim().ToLowerInvariant(); }

    [Description("Rotated NMS: BEV IoU above which the lower-scoring box goes. Circle NMS: centre distance in metres.")]
    [Range(0.0, 100.0)]
    public double NmsThreshold { get; set; } = 0.1;
}
