using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// An exponential moving average of a module's weights and floating-point buffers (batch-norm statistics), kept beside
/// the live weights during training (Polyak averaging, as timm's ModelEma and TensorFlow's ExponentialMovingAverage do).
/// The decay of update t (counting from 0) is min(decay, (1 + t) / (10 + t)): early updates follow the weights closely,
/// so a short run is not dominated by where it started.
/// </summary>
public sealed class WeightAverage : IDisposable
{
    private readonly List<(Tensor Live, Tensor Average)> pairs;

    /// <summary>Starts the average at the module's current state, as if <paramref name="updates"/> updates had been made.</summary>
    public WeightAverage(nn.Module module, double decay, long updates = 0)
    {
        if (decay is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(decay), decay, "A weight average's decay lies in (0, 1).");
        Decay = decay;
        Updates = updates;
        using var _ = no_grad();
        pairs = module.parameters().Cast<Tensor>().Concat(module.buffers())
            .Where(t => t.is_floating_point())
            .Select(t => (t, t.detach().clone()))
            .ToList();
    }

    public double Decay { get; }

    /// <summary>Updates made so far (they set the ramp of the decay).</summary>
    public long Updates { get; private set; }

    /// <summary>The decay the next update uses.</summary>
    public double NextDecay => Math.Min(Decay, (1.0 + Updates) / (10.0 + Updates));

    /// <summary>average = d * average + (1 - d) * live, with d = <see cref="NextDecay"/>.</summary>
    public void Update()
    {
        var d = NextDecay;
        using (no_grad())
            foreach (var (live, average) in pairs)
                average.mul_(d).add_(live, alpha: 1 - d);
        Updates++;
    }

    /// <summary>Exchanges the live weights and the average: twice restores both (used to save the average as a checkpoint).</summary>
    public void Swap()
    {
        using var _ = no_grad();
        foreach (var (live, average) in pairs)
        {
            using var held = live.detach().clone();
            live.copy_(average);
            average.copy_(held);
        }
    }

    /// <summary>Writes the average into the live weights (the run ends with the averaged model).</summary>
    public void CopyIntoModel()
    {
        using var _ = no_grad();
        foreach (var (live, average) in pairs) live.copy_(average);
    }

    public void Dispose()
    {
        foreach (var (_, average) in pairs) average.Dispose();
    }
}
