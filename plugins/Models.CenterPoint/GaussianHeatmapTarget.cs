using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;

namespace Platform.Plugins.Models.CenterPoint;

/// <summary>Targets of one frame on the feature-map grid.</summary>
/// <param name="Heatmap">[K, H, W] row-major: per class, Gaussian peaks of 1 at object centres.</param>
/// <param name="Indices">Flat cell (row * W + column) of each kept object's centre.</param>
/// <param name="Regression">Per kept object, 8 values: centre offset (dx, dy) inside its cell, z, log(l, w, h), sin(yaw), cos(yaw).</param>
/// <param name="Radii">Gaussian radius used for each kept object (cells).</param>
public sealed record FrameTargets(float[] Heatmap, int[] Indices, float[][] Regression, int[] Radii);

/// <summary>Options of the heatmap targets (<see cref="GaussianHeatmapTarget"/>; OpenPCDet's TARGET_ASSIGNER_CONFIG).</summary>
public sealed class TargetOptions
{
    [Description("Minimum IoU the Gaussian radius rule keeps between a box and a box shifted by the radius (CenterNet).")]
    [Range(0.01, 0.99)]
    public double GaussianOverlap { get; set; } = 0.1;

    [Description("Smallest heatmap Gaussian radius, in feature-map cells. kitti: 2.")]
    [Range(0, 100)]
    public int MinRadius { get; set; } = 1;
}

/// <summary>
/// CenterPoint's training targets (Yin et al. 2021, sec. 4, following CenterNet, Zhou et al. 2019, sec. 3):
/// each box puts a 2D Gaussian on its class's heatmap at its centre cell, with a radius from the CenterNet
/// rule (the largest shift of a box that keeps IoU >= GaussianOverlap, at least MinRadius), and its
/// regression targets at that cell. Cell coordinates: column = (x - xmin) / cell, row = (y - ymin) / cell.
/// </summary>
public sealed class GaussianHeatmapTarget(TargetOptions options, BevGrid grid, int classes)
{
    public const int RegressionSize = 8;

    public FrameTargets Build(IReadOnlyList<Box3D> boxes)
    {
        int w = grid.FeatureX, h = grid.FeatureY;
        var heatmap = new float[classes * h * w];
        var indices = new List<int>();
        var regression = new List<float[]>();
        var radii = new List<int>();
        var cell = grid.CellSize;
        var r = grid.PointCloudRange;
        foreach (var box in boxes)
        {
            if (box.ClassId < 0 || box.ClassId >= classes || !Finite(box) || box.Length <= 0 || box.Width <= 0 || box.Height <= 0) continue;
            var cx = (box.X - r[0]) / cell;
            var cy = (box.Y - r[1]) / cell;
            int col = (int)Math.Floor(cx), row = (int)Math.Floor(cy);
            if (col < 0 || col >= w || row < 0 || row >= h) continue;
            var radius = Math.Max(options.MinRadius, (int)GaussianRadius(box.Length / cell, box.Width / cell, options.GaussianOverlap));
            DrawGaussian(heatmap.AsSpan(box.ClassId * h * w, h * w), w, h, col, row, radius);
            indices.Add(row * w + col);
            regression.Add([(float)(cx - col), (float)(cy - row), box.Z,
                MathF.Log(box.Length), MathF.Log(box.Width), MathF.Log(box.Height), MathF.Sin(box.Yaw), MathF.Cos(box.Yaw)]);
            radii.Add(radius);
        }
        return new FrameTargets(heatmap, indices.ToArray(), regression.ToArray(), radii.ToArray());
    }

    private static bool Finite(Box3D b) =>
        float.IsFinite(b.X) && float.IsFinite(b.Y) && float.IsFinite(b.Z) && float.IsFinite(b.Length) && float.IsFinite(b.Width) && float.IsFinite(b.Height) && float.IsFinite(b.Yaw);

    /// <summary>
    /// CornerNet/CenterNet's radius rule as OpenPCDet implements it (centernet_utils.gaussian_radius): the
    /// smallest of the three quadratic roots for a corner shift that keeps IoU >= <paramref name="minOverlap"/>.
    /// </summary>
    public static double GaussianRadius(double height, double width, double minOverlap)
    {
        double b1 = height + width, c1 = width * height * (1 - minOverlap) / (1 + minOverlap);
        var r1 = (b1 + Math.Sqrt(b1 * b1 - 4 * c1)) / 2;
        double a2 = 4, b2 = 2 * (height + width), c2 = (1 - minOverlap) * width * height;
        var r2 = (b2 + Math.Sqrt(b2 * b2 - 4 * a2 * c2)) / 2;
        double a3 = 4 * minOverlap, b3 = -2 * minOverlap * (height + width), c3 = (minOverlap - 1) * width * height;
        var r3 = (b3 + Math.Sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
        return Math.Min(r1, Math.Min(r2, r3));
    }

    /// <summary>
    /// Writes max(existing, exp(-(dx² + dy²) / 2σ²)) with σ = (2r + 1) / 6 over the (2r + 1)² window, clipped to the map.
    /// Only the clipped window is visited: a label with an absurd size (1e30 m gave a radius of int.MaxValue) costs no
    /// more than the map.
    /// </summary>
    public static void DrawGaussian(Span<float> map, int width, int height, int col, int row, int radius)
    {
        radius = Math.Max(radius, 0);
        var sigma = (2.0 * radius + 1) / 6.0;
        int yFrom = (int)Math.Max(-(long)radius, -(long)row), yTo = (int)Math.Min(radius, (long)height - 1 - row);
        int xFrom = (int)Math.Max(-(long)radius, -(long)col), xTo = (int)Math.Min(radius, (long)width - 1 - col);
        for (var dy = yFrom; dy <= yTo; dy++)
        {
            var y = row + dy;
            for (var dx = xFrom; dx <= xTo; dx++)
            {
                var x = col + dx;
                var g = (float)Math.Exp(-((double)dx * dx + (double)dy * dy) / (2 * sigma * sigma));
                ref var cellValue = ref map[y * width + x];
                if (g > cellValue) cellValue = g;
            }
        }
    }
}
