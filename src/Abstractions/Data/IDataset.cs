using Platform.Abstractions.Models;

namespace Platform.Abstractions.Data;

/// <summary>What a model needs to know about the data it will see.</summary>
public sealed record DatasetInfo(
    string Name,
    ModelTask Task,
    IReadOnlyList<string> ClassNames,
    int PointFeatures,
    float[]? PointCloudRange = null);

/// <summary>A dataset: named splits of samples, streamed from wherever they live.</summary>
public interface IDataset
{
    DatasetInfo Info { get; }
    IReadOnlyList<string> Splits { get; }

    /// <summary>The evaluator that scores models on this data unless a pipeline names another.</summary>
    string DefaultEvaluator { get; }

    /// <exception cref="KeyNotFoundException">The split does not exist; the message lists those that do.</exception>
    ISampleSource GetSplit(string split);

    /// <summary>What identifies the data for a results file (root, generator seed, frames per split...); recorded in every report.</summary>
    IReadOnlyDictionary<string, string> Provenance => new Dictionary<string, string>();

    /// <summary>What the reader dropped or skipped in the data read so far (non-finite points, bad frames); recorded in the report.</summary>
    IReadOnlyDictionary<string, double> InputCounts => new Dictionary<string, double>();
}

/// <summary>An indexable, lazily loaded list of samples (a split, or a split seen through transforms).</summary>
public interface ISampleSource
{
    string Name { get; }
    int Count { get; }
    Sample Get(int index);
}

/// <summary>
/// A source whose samples change with each read (training augmentation drawn from the read count). A training run that
/// resumes from an epoch checkpoint tells it the reads the finished epochs made, so that the next epoch draws what the
/// uninterrupted run drew.
/// </summary>
public interface IReadCountingSource : ISampleSource
{
    /// <summary>Counts one read of each of <paramref name="indices"/> without producing the samples.</summary>
    void CountReads(IEnumerable<int> indices);
}

/// <summary>A sample source over samples already in memory (tests, small procedural sets).</summary>
public sealed class InMemorySampleSource(string name, IReadOnlyList<Sample> samples) : ISampleSource
{
    public string Name { get; } = name;
    public int Count => samples.Count;
    public Sample Get(int index) => samples[index];
}
