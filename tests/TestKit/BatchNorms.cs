using static TorchSharp.torch;

namespace Platform.TestKit;

public static class BatchNorms
{
    /// <summary>
    /// Running statistics and shifts away from their initial 0 and 1, so that a test comparing two models sees a channel
    /// mixed up with another (with the initial values every channel's normalisation is the same).
    /// </summary>
    public static void Randomize(nn.Module module, int seed)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        var state = module.state_dict();
        foreach (var (name, t) in state)
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) t.copy_(randn(t.shape, generator: generator) * 0.1);
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) t.copy_(rand(t.shape, generator: generator) + 0.5);
            else if (name.EndsWith(".bias", StringComparison.Ordinal) && state.ContainsKey(name[..^".bias".Length] + ".running_mean"))
                t.copy_(randn(t.shape, generator: generator) * 0.1);   // a batch norm's shift
    }
}
