using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>Runs a model over a split in eval mode and collects its predictions (for evaluators).</summary>
public static class Inference
{
    public static List<(Sample Sample, Prediction Prediction)> Predict(IModel model, ISampleSource data, RunServices services, int batchSize = 4, int maxSamples = 0, string description = "predict")
    {
        var count = maxSamples > 0 ? Math.Min(maxSamples, data.Count) : data.Count;
        var results = new List<(Sample, Prediction)>(count);
        model.Module.eval();
        using var _ = no_grad();
        using var progress = services.Progress.Start(description, count);
        var batchCount = (count + batchSize - 1) / batchSize;
        using var batches = new BatchPrefetch(b => model.CollateInputs(
            Enumerable.Range(b * batchSize, Math.Min(batchSize, count - b * batchSize)).Select(data.Get).ToArray(), services.Device),
            batchCount, model.CollatesOffThread);
        for (var b = 0; b < batchCount; b++)
        {
            using var quiet = NoGcRegion.Enter();
            using var scope = NewDisposeScope();
            using var batch = batches.Take(b);
            var predictions = model.Predict(model.Forward(batch), batch);
            for (var i = 0; i < batch.Samples.Count; i++) results.Add((batch.Samples[i].WithoutPoints(), predictions[i]));
            progress.Advance(batch.Samples.Count);
            batches.Settle();
        }
        return results;
    }
}
