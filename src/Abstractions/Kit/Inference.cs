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
        for (var start = 0; start < count; start += batchSize)
        {
            var samples = Enumerable.Range(start, Math.Min(batchSize, count - start)).Select(data.Get).ToArray();
            using var quiet = NoGcRegion.Enter();
            using var scope = NewDisposeScope();
            using var batch = model.CollateInputs(samples, services.Device);
            var predictions = model.Predict(model.Forward(batch), batch);
            for (var i = 0; i < samples.Length; i++) results.Add((samples[i].WithoutPoints(), predictions[i]));
            progress.Advance(samples.Length);
        }
        return results;
    }
}
