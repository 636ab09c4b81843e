using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.PointNet;

/// <summary>What PointNet-style classifiers share: collating point clouds to a fixed size, cross-entropy, decoding.</summary>
public static class ClassificationBatch
{
    /// <summary>
    /// Stacks samples into "points" (B, C, N) and "labels" (B). A cloud with more than N points keeps a random
    /// subset, one with fewer repeats random points (duplicates change neither max nor the class); the choice is
    /// seeded by the sample id, so a sample always gives the same tensor.
    /// </summary>
    public static ModelBatch Collate(IReadOnlyList<Sample> samples, int numPoints, int channels, Device device)
    {
        var data = new float[samples.Count * numPoints * channels];
        var labels = new long[samples.Count];
        for (var s = 0; s < samples.Count; s++)
        {
            var sample = samples[s];
            if (sample.PointFeatures < channels)
                throw new ArgumentException($"Sample '{sample.Id}' has {sample.PointFeatures} features per point, the model needs {channels}.");
            var count = sample.PointCount;
            if (count == 0) throw new ArgumentException($"Sample '{sample.Id}' has no points.");
            var random = new Random(StableHash.Of(sample.Id));
            var order = count >= numPoints
                ? Enumerable.Range(0, count).OrderBy(_ => random.Next()).Take(numPoints).ToArray()
                : Enumerable.Range(0, count).Concat(Enumerable.Range(0, numPoints - count).Select(_ => random.Next(count))).ToArray();
            for (var i = 0; i < numPoints; i++)
                Array.Copy(sample.Points, order[i] * sample.PointFeatures, data, ((long)s * numPoints + i) * channels, channels);
            labels[s] = sample.Label;
        }
        var points = tensor(data, new long[] { samples.Count, numPoints, channels }).permute(0, 2, 1).contiguous().to(device);
        return new ModelBatch(samples, new Dictionary<string, Tensor>
        {
            ["points"] = points,
            ["labels"] = tensor(labels).to(device),
        });
    }

    /// <summary>
    /// The graph input a classifier exports (IGraphExportable): "points" (batch, <paramref name="channels"/>, points), as
    /// <see cref="Collate"/> stacks them; the point count fixed where the network needs it (sampling sizes), else free.
    /// </summary>
    public static GraphValue PointsInput(IGraphWriter graph, long channels, long? points) =>
        graph.Input("points", ScalarType.Float32, [null, channels, points], ["batch", null, "points"]);

    public static IReadOnlyList<Prediction> Predict(Tensor logits)
    {
        using var probabilities = logits.detach().softmax(-1).cpu();
        var rows = probabilities.shape[0];
        var classes = (int)probabilities.shape[1];
        var flat = probabilities.data<float>().ToArray();
        var predictions = new Prediction[rows];
        for (var r = 0; r < rows; r++)
        {
            var p = flat.AsSpan(r * classes, classes).ToArray();
            var best = 0;
            for (var c = 1; c < classes; c++) if (p[c] > p[best]) best = c;
            predictions[r] = new Prediction { ClassId = best, Probabilities = p };
        }
        return predictions;
    }

    public static void CheckLabels(ModelBatch batch, int classes)
    {
        foreach (var sample in batch.Samples)
            if (sample.Label < 0 || sample.Label >= classes)
                throw new ArgumentException($"Sample '{sample.Id}' has label {sample.Label}; the dataset has {classes} classes.");
    }
}
