namespace Platform.Plugins.Datasets.KITTI;

/// <summary>
/// Exact overlap of rotated rectangles by convex polygon clipping (Sutherland–Hodgman), as the devkit's
/// BEV and 3D IoU need: BEV in the camera x–z plane, 3D as BEV intersection times the overlap along the
/// camera's Y axis (eval.cpp / kitti_common's d3_box_overlap).
/// </summary>
public static class RotatedBoxOverlap
{
    /// <summary>Corners of a rectangle centred at (cx, cy), sides length (along angle) x width, rotated CCW by angle.</summary>
    public static void Corners(double cx, double cy, double length, double width, double angle, Span<(double X, double Y)> corners)
    {
        double c = Math.Cos(angle), s = Math.Sin(angle), hl = length / 2, hw = width / 2;
        // Counter-clockwise order.
        ReadOnlySpan<(double, double)> local = [(hl, hw), (-hl, hw), (-hl, -hw), (hl, -hw)];
        for (var k = 0; k < 4; k++)
        {
            var (dx, dy) = local[k];
            corners[k] = (cx + c * dx - s * dy, cy + s * dx + c * dy);
        }
    }

    /// <summary>Area of the intersection of two rotated rectangles.</summary>
    public static double IntersectionArea(
        double cx1, double cy1, double l1, double w1, double a1,
        double cx2, double cy2, double l2, double w2, double a2)
    {
        // Quick reject by circumscribed circles: most pairs in a frame are far apart.
        var r = 0.5 * (Math.Sqrt(l1 * l1 + w1 * w1) + Math.Sqrt(l2 * l2 + w2 * w2));
        double ddx = cx1 - cx2, ddy = cy1 - cy2;
        if (ddx * ddx + ddy * ddy >= r * r) return 0;

        Span<(double X, double Y)> clip = stackalloc (double, double)[4];
        Span<(double X, double Y)> bufferA = stackalloc (double, double)[16];
        Span<(double X, double Y)> bufferB = stackalloc (double, double)[16];
        Corners(cx1, cy1, l1, w1, a1, bufferA);
        Corners(cx2, cy2, l2, w2, a2, clip);
        var count = 4;
        var input = bufferA;
        var output = bufferB;
        for (var e = 0; e < 4 && count > 0; e++)
        {
            var p = clip[e];
            var q = clip[(e + 1) % 4];
            var outCount = 0;
            for (var k = 0; k < count; k++)
            {
                var cur = input[k];
                var prev = input[(k + count - 1) % count];
                var curIn = Side(p, q, cur) >= 0;
                var prevIn = Side(p, q, prev) >= 0;
                if (curIn)
                {
                    if (!prevIn) output[outCount++] = Intersect(p, q, prev, cur);
                    output[outCount++] = cur;
                }
                else if (prevIn)
                {
                    output[outCount++] = Intersect(p, q, prev, cur);
                }
            }
            count = outCount;
            var t = input; input = output; output = t;
        }
        if (count < 3) return 0;
        double area = 0;
        for (var k = 0; k < count; k++)
        {
            var a = input[k];
            var b = input[(k + 1) % count];
            area += a.X * b.Y - b.X * a.Y;
        }
        return Math.Abs(area) / 2;
    }

    /// <summary>IoU of two rotated rectangles (BEV).</summary>
    public static double Iou(
        double cx1, double cy1, double l1, double w1, double a1,
        double cx2, double cy2, double l2, double w2, double a2)
    {
        var inter = IntersectionArea(cx1, cy1, l1, w1, a1, cx2, cy2, l2, w2, a2);
        var union = l1 * w1 + l2 * w2 - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>
    /// BEV IoU of two label_2 boxes in the camera x–z plane. A camera box's length axis points along
    /// (cos ry, -sin ry) in (x, z) (devkit computeBox3D), i.e. a CCW rotation by -ry.
    /// </summary>
    public static double BevIou(KittiObject a, KittiObject b) =>
        Iou(a.X, a.Z, a.Length, a.Width, -a.RotationY, b.X, b.Z, b.Length, b.Width, -b.RotationY);

    /// <summary>3D IoU of two label_2 boxes: BEV intersection × overlap in Y (each box spans [y - h, y], Y down).</summary>
    public static double Iou3D(KittiObject a, KittiObject b)
    {
        var bev = IntersectionArea(a.X, a.Z, a.Length, a.Width, -a.RotationY, b.X, b.Z, b.Length, b.Width, -b.RotationY);
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

    private static double Side((double X, double Y) p, (double X, double Y) q, (double X, double Y) r) =>
        (q.X - p.X) * (r.Y - p.Y) - (q.Y - p.Y) * (r.X - p.X);

    private static (double X, double Y) Intersect((double X, double Y) p, (double X, double Y) q, (double X, double Y) a, (double X, double Y) b)
    {
        var sa = Side(p, q, a);
        var sb = Side(p, q, b);
        var t = sa / (sa - sb);
        return (a.X + t * (b.X - a.X), a.Y + t * (b.Y - a.Y));
    }
}
