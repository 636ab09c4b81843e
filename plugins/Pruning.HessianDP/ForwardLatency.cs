using System.Diagnostics;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>Times forward passes of models on the same inputs: the latency budget's measurement (a stand-in in tests).</summary>
internal interface IForwardTimer : IDisposable
{
    /// <summary>Samples per pass.</summary>
    int Samples { get; }

    /// <summary>Seconds of one pass over the samples, for each model (the fastest of the timed passes).</summary>
    double[] Seconds(params IModel[] models);
}

/// <summary>
/// Forward latency measured on the run's device and thread count, at the run's input: a few calibration samples, each
/// collated alone (batch 1, as deployed), timed over several passes after a warm-up. Two models are timed alternately,
/// pass by pass and in alternating order (Kit/AlternatingOrder), so both see the same machine load (NetAdapt's lookup tables are measured the same way, on the target).
/// </summary>
internal sealed class ForwardLatency : IForwardTimer
{
    private readonly List<ModelBatch> _samples = [];
    private readonly int _repeats;
    private readonly Device _device;

    public int Samples => _samples.Count;

    public ForwardLatency(PipelineContext context, IModel model, ChannelPruningOptions options, string step)
    {
        var split = context.Split(options.CalibrationSplit);
        var count = Math.Min(options.LatencySamples, split.Count);
        if (count == 0) throw new ArgumentException($"Step '{step}': split '{split.Name}' has no sample to time the forward pass on.");
        _device = context.Services.Device;
        for (var i = 0; i < count; i++) _samples.Add(model.CollateInputs([split.Get(i)], _device));
        _repeats = options.LatencyRepeats;
    }

    /// <summary>
    /// Seconds of one pass over the samples, for each model: one pass of each per round, the first model going first in even
    /// rounds and last in odd ones, and each model's fastest pass kept. Other work on the machine only ever adds time, so the
    /// fastest pass is the one it disturbed least; a median of a few passes let one burst on a busy 2-core VM read a 1.30x plan
    /// as 1.60x and the search keep it (the Budget note of bench/results/channel-pruning.md).
    /// </summary>
    public double[] Seconds(params IModel[] models)
    {
        foreach (var model in models)
        {
            model.Module.eval();
            Pass(model);   // warm-up: allocator, kernel choice
        }
        var times = models.Select(_ => new double[_repeats]).ToArray();
        for (var r = 0; r < _repeats; r++)
            foreach (var m in AlternatingOrder.Of(r, models.Length))
                times[m][r] = Pass(models[m]);
        return times.Select(t => t.Min()).ToArray();
    }

    private double Pass(IModel model)
    {
        using var _ = no_grad();
        var watch = Stopwatch.StartNew();
        foreach (var batch in _samples)
        {
            using var scope = NewDisposeScope();
            // TorchSharp's temporary scalars race with the collector in tight loops (Kit/NoGcRegion); it also keeps GC pauses out of the timing.
            using var quiet = NoGcRegion.Enter();
            model.Forward(batch);
        }
        DeviceSync.Wait(_device);
        return watch.Elapsed.TotalSeconds;
    }

    public void Dispose()
    {
        foreach (var batch in _samples) batch.Dispose();
        _samples.Clear();
    }
}
