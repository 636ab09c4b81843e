using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// The standard training-time augmentations of PointNet/PointNet++ training scripts: random anisotropic-free
/// scaling, clipped Gaussian jitter and point shuffling. Applied to the training split only.
/// </summary>
public sealed record PointAugmentation(bool Enabled, double ScaleMin, double ScaleMax, double Jitter, double JitterClip, bool Shuffle)
{
    public Sample Apply(Sample sample, Random random)
    {
        if (!Enabled) return sample;
        var f = sample.PointFeatures;
        var n = sample.PointCount;
        var points = (float[])sample.Points.Clone();
        var scale = (float)(ScaleMin + random.NextDouble() * (ScaleMax - ScaleMin));
        for (var i = 0; i < n; i++)
        for (var c = 0; c < 3; c++)
        {
            var jitter = Jitter > 0 ? Math.Clamp(ProceduralShapes.Gaussian(random) * Jitter, -JitterClip, JitterClip) : 0;
            points[i * f + c] = points[i * f + c] * scale + (float)jitter;
        }
        if (Shuffle)
        {
            var row = new float[f];
            for (var i = n - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                Array.Copy(points, i * f, row, 0, f);
                Array.Copy(points, j * f, points, i * f, f);
                Array.Copy(row, 0, points, j * f, f);
            }
        }
        return sample with { Points = points };
    }
}

/// <summary>A split whose samples are augmented afresh on every read: the k-th read of sample i is seeded by (seed, i, k).</summary>
public sealed class AugmentedSampleSource(ISampleSource inner, PointAugmentation augmentation, int seed) : IReadCountingSource
{
    private readonly int[] reads = new int[inner.Count];

    public string Name => inner.Name;
    public int Count => inner.Count;

    public Sample Get(int index)
    {
        var read = Interlocked.Increment(ref reads[index]);
        return augmentation.Apply(inner.Get(index), new Random(StableHash.Combine(seed, index, read)));
    }

    public void CountReads(IEnumerable<int> indices)
    {
        foreach (var index in indices) Interlocked.Increment(ref reads[index]);
    }
}

/// <summary>The training augmentation options every shape dataset of this plugin offers.</summary>
public class AugmentationOptions
{
    [Description("Augment training samples (scaling, jitter, shuffling) each time they are read.")]
    public bool Augment { get; set; } = true;

    [Description("Smallest random scale factor of the training augmentation.")]
    [Range(0.01, 10.0)]
    public double ScaleMin { get; set; } = 0.8;

    [Description("Largest random scale factor of the training augmentation.")]
    [Range(0.01, 10.0)]
    public double ScaleMax { get; set; } = 1.25;

    [Description("Standard deviation of the per-point jitter of the training augmentation (clipped at 5x).")]
    [Range(0.0, 1.0)]
    public double Jitter { get; set; } = 0.01;

    [Description("Shuffle the point order of training samples.")]
    public bool Shuffle { get; set; } = true;

    /// <summary>The augmentation these options describe; jitter is clipped at five standard deviations.</summary>
    public PointAugmentation ToAugmentation() => new(Augment, ScaleMin, ScaleMax, Jitter, Jitter * 5, Shuffle);
}
