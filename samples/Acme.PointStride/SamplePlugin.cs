using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;

namespace Acme.PointStride;

/// <summary>The one Autofac module the host looks for: it registers this plugin's components by name.</summary>
public sealed class SamplePluginModule : Module
{
    protected override void Load(ContainerBuilder builder)
    {
        builder.RegisterPointTransform<KeepEveryNth, KeepEveryNthOptions>("keep-every-nth", "Keeps every N-th point of each cloud (a deliberately simple sparsifier).");
        builder.RegisterDataset<GaussianBlobs, GaussianBlobsOptions>("gaussian-blobs", "Point clouds of 1 to K Gaussian blobs; the label is the number of blobs minus one.");
    }
}

public sealed class KeepEveryNthOptions
{
    [Description("Keep one point in this many.")]
    [Range(1, 1000)]
    public int Stride { get; set; } = 2;
}

public sealed class KeepEveryNth(KeepEveryNthOptions options) : IPointTransform
{
    public string Describe() => $"keep every {options.Stride}th point";

    public Sample Apply(Sample sample, int seed)
    {
        var f = sample.PointFeatures;
        var kept = (sample.PointCount + options.Stride - 1) / options.Stride;
        var points = new float[kept * f];
        for (var i = 0; i < kept; i++) Array.Copy(sample.Points, i * options.Stride * f, points, i * f, f);
        return sample with { Points = points };
    }
}

public sealed class GaussianBlobsOptions
{
    [Description("Number of classes: clouds have 1 to this many blobs.")]
    [Range(2, 10)]
    public int Classes { get; set; } = 3;

    [Description("Samples in each of the train and val splits.")]
    [Range(1, 100000)]
    public int SamplesPerSplit { get; set; } = 32;

    [Description("Points per cloud.")]
    [Range(1, 100000)]
    public int Points { get; set; } = 100;
}

public sealed class GaussianBlobs(GaussianBlobsOptions options, RunServices services) : IDataset
{
    public DatasetInfo Info { get; } = new("gaussian-blobs", ModelTask.Classification,
        Enumerable.Range(1, options.Classes).Select(k => $"{k} blob{(k > 1 ? "s" : "")}").ToArray(), 3);

    public IReadOnlyList<string> Splits { get; } = ["train", "val"];
    public string DefaultEvaluator => "accuracy";

    public ISampleSource GetSplit(string split)
    {
        if (!Splits.Contains(split)) throw new KeyNotFoundException($"gaussian-blobs has no split '{split}'; it has {string.Join(", ", Splits)}.");
        var random = Seeding.Random(services.Seed, "gaussian-blobs/" + split);
        var samples = Enumerable.Range(0, options.SamplesPerSplit).Select(i => Make($"{split}-{i:D4}", random)).ToArray();
        return new InMemorySampleSource(split, samples);
    }

    private Sample Make(string id, Random random)
    {
        var label = random.Next(options.Classes);
        var centres = Enumerable.Range(0, label + 1).Select(_ => (X: random.NextSingle() * 4 - 2, Y: random.NextSingle() * 4 - 2, Z: random.NextSingle() * 4 - 2)).ToArray();
        var points = new float[options.Points * 3];
        for (var p = 0; p < options.Points; p++)
        {
            var c = centres[p % centres.Length];
            points[3 * p] = c.X + Gaussian(random) * 0.2f;
            points[3 * p + 1] = c.Y + Gaussian(random) * 0.2f;
            points[3 * p + 2] = c.Z + Gaussian(random) * 0.2f;
        }
        return new Sample { Id = id, Points = points, PointFeatures = 3, Label = label };
    }

    private static float Gaussian(Random random) =>
        MathF.Sqrt(-2f * MathF.Log(1f - random.NextSingle())) * MathF.Cos(2f * MathF.PI * random.NextSingle());
}
