using Platform.Abstractions.Kit;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>
/// The devkit's overlaps of label_2 boxes: BEV in the camera x–z plane (the kit's <see cref="RotatedRectangle"/>),
/// 3D as BEV intersection times the overlap along the camera's Y axis (eval.cpp / kitti_common's d3_box_overlap),
/// and image-box overlap.
/// </summary>
public static class RotatedBoxOverlap
{
    /// <summary>
    /// BEV IoU of two label_2 boxes in the camera x–z plane. A camera box's length axis points along
    /// (cos ry, -sin ry) in (x, z) (devkit computeBox3D), i.e. a CCW rotation by -ry.
    /// </summary>
    public static double BevIou(KittiObject a, KittiObject b) =>
        RotatedRectangle.Iou(a.X, a.Z, a.Length, a.Width, -a.RotationY, b.X, b.Z, b.Length, b.Width, -b.RotationY);

    /// <summary>3D IoU of two label_2 boxes: BEV intersection × overlap in Y (each box spans [y - h, y], Y down).</summary>
    public static double Iou3D(KittiObject a, KittiObject b)
    {
        var bev = RotatedRectangle.IntersectionArea(a.X, a.Z, a.Length, a.Width, -a.RotationY, b.X, b.Z, b.Length, b.Width, -b.RotationY);
        if (bev <= 0) return 0;
        var overlapY = Math.Min(a.Y, b.Y) - Math.Max(a.Y - a.Height, b.Y - b.Height);
        if (overlapY <= 0) return 0;
        var inter = bev * overlapY;
        var union = (double)a.Length * a.Width * a.Height + (double)b.Length * b.Width * b.Height - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>
    /// Overlap of image boxes as kitti_common's image_box_overlap: IoU (criterion -1), or intersection over
    /// the first box's area (criterion 0, used for DontCare regions). Areas without the +1 pixel.
    /// </summary>
    public static double ImageOverlap(KittiObject a, KittiObject b, bool overFirstArea = false)
    {
        var iw = Math.Min(a.Right, b.Right) - Math.Max(a.Left, b.Left);
        if (iw <= 0) return 0;
        var ih = Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Top, b.Top);
        if (ih <= 0) return 0;
        double inter = iw * ih;
        double areaA = (a.Right - a.Left) * (a.Bottom - a.Top);
        double areaB = (b.Right - b.Left) * (b.Bottom - b.Top);
        var ua = overFirstArea ? areaA : areaA + areaB - inter;
        return ua <= 0 ? 0 : inter / ua;
    }
}
