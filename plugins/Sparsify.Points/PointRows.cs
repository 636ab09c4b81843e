using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points;

/// <summary>
/// Row operations on a sample's flat point buffer (row-major, <c>PointFeatures</c> floats per point,
/// x, y, z first). One output array per sample, no per-point allocation.
/// </summary>
internal static class PointRows
{
    /// <summary>Rejects a buffer that cannot be read as rows of x, y, z(, ...), naming the sample and the transform.</summary>
    public static void Validate(Sample sample, string transform)
    {
        if (sample.PointFeatures < 3)
            throw new ArgumentException($"{transform}: sample '{sample.Id}' has PointFeatures={sample.PointFeatures}; a point needs at least x, y, z.");
        if (sample.Points.Length % sample.PointFeatures != 0)
            throw new ArgumentException($"{transform}: sample '{sample.Id}' has {sample.Points.Length} floats, not a multiple of PointFeatures={sample.PointFeatures}.");
    }

    /// <summary>The rows whose <paramref name="keep"/> flag is set, in their original order.</summary>
    public static float[] Where(float[] points, int features, bool[] keep, int kept)
    {
        var result = new float[kept * features];
        var src = points.AsSpan();
        var dst = result.AsSpan();
        var o = 0;
        for (var i = 0; i < keep.Length; i++)
        {
            if (!keep[i]) continue;
            src.Slice(i * features, features).CopyTo(dst.Slice(o, features));
            o += features;
        }
        return result;
    }
}
