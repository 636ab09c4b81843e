using Platform.Abstractions.Data;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Exact overlap of rotated rectangles in a plane by convex polygon clipping (Sutherland–Hodgman): the BEV IoU that
/// detectors suppress with, that evaluators match with and that scene generators keep objects apart with.
/// Angles are counter-clockwise from the first axis; a rectangle's length lies along its angle.
/// </summary>
public static class RotatedRectangle
{
    /// <summary>Corners of a rectangle centred at (cx, cy), sides length (along angle) x width, in counter-clockwise order.</summary>
    public static void Corners(double cx, double cy, double length, double width, double angle, Span<(double X, double Y)> corners)
    {
        double c = Math.Cos(angle), s = Math.Sin(angle), hl = length / 2, hw = width / 2;
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
        // Clipping a convex quadrilateral by four half-planes adds at most one vertex per edge: 8 suffice.
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

    /// <summary>IoU of two rotated rectangles; 0 when both are degenerate.</summary>
    public static double Iou(
        double cx1, double cy1, double l1, double w1, double a1,
        double cx2, double cy2, double l2, double w2, double a2)
    {
        var inter = IntersectionArea(cx1, cy1, l1, w1, a1, cx2, cy2, l2, w2, a2);
        var union = l1 * w1 + l2 * w2 - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>Bird's-eye-view IoU of two lidar-frame boxes: their x–y rectangles, yaw counter-clockwise from +x.</summary>
    public static double BevIou(Box3D a, Box3D b) =>
        Iou(a.X, a.Y, a.Length, a.Width, a.Yaw, b.X, b.Y, b.Length, b.Width, b.Yaw);

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
