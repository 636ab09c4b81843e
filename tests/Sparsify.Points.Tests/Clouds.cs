using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points.Tests;

/// <summary>Hand-made clouds: rows of (x, y, z, tag), the tag telling a test which point survived.</summary>
internal static class Clouds
{
    public static Sample Of(params (float X, float Y, float Z, float Tag)[] rows)
    {
        var points = new float[rows.Length * 4];
        for (var i = 0; i < rows.Length; i++)
        {
            points[i * 4] = rows[i].X;
            points[i * 4 + 1] = rows[i].Y;
            points[i * 4 + 2] = rows[i].Z;
            points[i * 4 + 3] = rows[i].Tag;
        }
        return new Sample { Id = "hand-made", Points = points, PointFeatures = 4, Label = 3, Boxes = [new Box3D(1, 2, 3, 4, 2, 1.5f, 0.1f, 0)] };
    }

    /// <summary>The 4th feature of every point, in order.</summary>
    public static float[] Tags(Sample sample) =>
        Enumerable.Range(0, sample.PointCount).Select(i => sample.Points[i * sample.PointFeatures + 3]).ToArray();

    /// <summary>A cloud of <paramref name="count"/> distinct points (tag = index), spread over a 40 m square.</summary>
    public static Sample Spread(int count, int seed = 7)
    {
        var rng = new Random(seed);
        var rows = new (float, float, float, float)[count];
        for (var i = 0; i < count; i++)
            rows[i] = ((float)(rng.NextDouble() * 40 - 20), (float)(rng.NextDouble() * 40 - 20), (float)(rng.NextDouble() * 3 - 2), i);
        return Of(rows);
    }
}
