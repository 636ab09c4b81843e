using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>Options of the "kitti" dataset.</summary>
public sealed class KittiOptions : IValidatableObject
{
    [Description("KITTI object root: holds training/{velodyne,label_2,calib} and ImageSets/{train,val,test}.txt.")]
    [Required(AllowEmptyStrings = false)]
    public string Root { get; set; } = "data/kitti-synth";

    [Description("Classes to detect, in class-id order; boxes of other types stay in the annotation for the evaluator.")]
    [Required, MinLength(1)]
    public string[] Classes { get; set; } = ["Car", "Pedestrian", "Cyclist"];

    [Description("Point-cloud range crop in the lidar frame: xmin, ymin, zmin, xmax, ymax, zmax (m).")]
    public float[] PointCloudRange { get; set; } = [0f, -39.68f, -3f, 69.12f, 39.68f, 1f];

    [Description("Keep only points that project into the image of camera 2 (the labelled field of view).")]
    public bool CropToCameraFov { get; set; } = true;

    [Description("Image size assumed for the camera field-of-view crop (KITTI's images are about 1242 x 375).")]
    [Range(1, 100000)]
    public int ImageWidth { get; set; } = 1242;

    [Description("Image height for the field-of-view crop.")]
    [Range(1, 100000)]
    public int ImageHeight { get; set; } = 375;

    [Description("Keep at most this many points per frame (a seeded random subset, the same for a frame every time); 0 keeps all.")]
    [Range(0, int.MaxValue)]
    public int MaxPoints { get; set; }

    [Description("Skip frames whose files are missing or corrupt (with a warning and a count) instead of stopping at the first.")]
    public bool SkipBadFrames { get; set; }

    [Description("When Root does not exist, generate the synthetic KITTI-format set there once (ray-cast 64-beam scenes) and reuse it afterwards.")]
    public bool Synthetic { get; set; }

    [Description("Training frames of the synthetic set (frames 0 .. N-1).")]
    [Range(0, 100000)]
    public int SyntheticTrainFrames { get; set; } = SyntheticSplits.Default.Train;

    [Description("Validation frames of the synthetic set (numbered after the training frames): choose settings here.")]
    [Range(0, 100000)]
    public int SyntheticValFrames { get; set; } = SyntheticSplits.Default.Val;

    [Description("Test frames of the synthetic set (numbered after the validation frames): report here, never tune here.")]
    [Range(0, 100000)]
    public int SyntheticTestFrames { get; set; } = SyntheticSplits.Default.Test;

    public SyntheticSplits SyntheticSplits => new(SyntheticTrainFrames, SyntheticValFrames, SyntheticTestFrames);

    [Description("Seed of the synthetic set: the same seed gives the same bytes.")]
    public int SyntheticSeed { get; set; }

    /// <summary>The range crop is a box: six numbers, each minimum below its maximum.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PointCloudRange is not { Length: 6 } r || !(r[0] < r[3]) || !(r[1] < r[4]) || !(r[2] < r[5]))
            yield return new ValidationResult("must be 6 numbers xmin, ymin, zmin, xmax, ymax, zmax with each min below its max.", [nameof(PointCloudRange)]);
    }
}
