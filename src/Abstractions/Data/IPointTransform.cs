namespace Platform.Abstractions.Data;

/// <summary>
/// Points in, (usually fewer) points out. Applied to every split alike so that training, calibration
/// and evaluation stay comparable. Must be deterministic for a given <paramref name="seed"/>.
/// </summary>
public interface IPointTransform
{
    /// <summary>A short human-readable summary of the settings, for reports.</summary>
    string Describe();

    Sample Apply(Sample sample, int seed);
}

/// <summary>Counts points before and after a transform, for the report.</summary>
public sealed class PointCountTally
{
    private long _in, _out, _samples;
    public long PointsIn => Interlocked.Read(ref _in);
    public long PointsOut => Interlocked.Read(ref _out);
    public long Samples => Interlocked.Read(ref _samples);
    public double KeptFraction => PointsIn == 0 ? 1 : (double)PointsOut / PointsIn;

    public void Add(int pointsIn, int pointsOut)
    {
        Interlocked.Add(ref _in, pointsIn);
        Interlocked.Add(ref _out, pointsOut);
        Interlocked.Increment(ref _samples);
    }
}

/// <summary>A sample source seen through a chain of point transforms.</summary>
public sealed class TransformedSampleSource(ISampleSource inner, IReadOnlyList<(IPointTransform Transform, PointCountTally Tally)> chain, int seed) : ISampleSource
{
    public string Name => inner.Name;
    public int Count => inner.Count;

    public Sample Get(int index)
    {
        var sample = inner.Get(index);
        for (var t = 0; t < chain.Count; t++)
        {
            var before = sample.PointCount;
            // A per-sample, per-transform seed: the same sample always gets the same points.
            sample = chain[t].Transform.Apply(sample, Kit.StableHash.Combine(seed, t, Kit.StableHash.Of(sample.Id)));
            chain[t].Tally.Add(before, sample.PointCount);
        }
        return sample;
    }
}
