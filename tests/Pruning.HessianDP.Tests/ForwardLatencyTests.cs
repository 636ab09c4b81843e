using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>The latency budget's timer: which model runs when.</summary>
public class ForwardLatencyTests
{
    [Test]
    public void Two_models_take_turns_going_first_after_one_warm_up_pass_each()
    {
        var log = new List<string>();
        using var dense = new RecordingModel(ChannelPruningTests.PointNet(), "dense", log);
        using var candidate = new RecordingModel(ChannelPruningTests.PointNet(), "candidate", log);
        var options = new ChannelPruningOptions { LatencySamples = 1, LatencyRepeats = 4 };
        using var timer = new ForwardLatency(TestPipeline.Context(dense), dense, options, "test");

        var seconds = timer.Seconds(dense, candidate);

        // One sample per pass, so one forward per pass: warm-ups in the given order, then A B, B A, A B, B A.
        Assert.That(log, Is.EqualTo(new[] { "dense", "candidate", "dense", "candidate", "candidate", "dense", "dense", "candidate", "candidate", "dense" }));
        Assert.That(seconds, Has.Length.EqualTo(2).And.All.GreaterThan(0.0));
    }

    [Test]
    public void A_pass_slowed_by_other_work_does_not_count_when_one_pass_ran_undisturbed()
    {
        var log = new List<string>();
        // Calls 1 (warm-up) and 3-4 of the three timed passes are slowed by 150 ms, as a burst of other work would: a
        // median would read a slow pass; the fastest pass is the undisturbed one.
        using var slowed = new RecordingModel(ChannelPruningTests.PointNet(), "slowed", log, slowCalls: [1, 3, 4]);
        var options = new ChannelPruningOptions { LatencySamples = 1, LatencyRepeats = 3 };
        using var timer = new ForwardLatency(TestPipeline.Context(slowed), slowed, options, "test");

        var seconds = timer.Seconds(slowed);

        Assert.That(log, Has.Count.EqualTo(4));
        Assert.That(seconds[0], Is.LessThan(0.1), "the undisturbed pass (call 2) is the one that counts");
    }

    /// <summary>A model that logs its name at every forward pass (sleeping first on the 1-based calls in slowCalls) and otherwise is the model it wraps.</summary>
    private sealed class RecordingModel(IModel inner, string name, List<string> log, int[]? slowCalls = null) : IModel
    {
        public ModelTask Task => inner.Task;
        public nn.Module Module => inner.Module;
        public IReadOnlyList<PrunableLayer> PrunableLayers => inner.PrunableLayers;
        public double OtherFlopsPerSample => inner.OtherFlopsPerSample;
        public WeightMasks Masks => inner.Masks;
        public IReadOnlyList<DistortionOutput> DistortionOutputs => inner.DistortionOutputs;
        public ModelSpec Spec => inner.Spec;
        public ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => inner.Collate(samples, device);
        public ModelBatch CollateInputs(IReadOnlyList<Sample> samples, Device device) => inner.CollateInputs(samples, device);
        public LossTerms Loss(ModelOutput output, ModelBatch batch) => inner.Loss(output, batch);
        public IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => inner.Predict(output, batch);
        public void Dispose() => inner.Dispose();

        public ModelOutput Forward(ModelBatch batch)
        {
            log.Add(name);
            if (slowCalls is not null && slowCalls.Contains(log.Count)) Thread.Sleep(150);
            return inner.Forward(batch);
        }
    }
}
