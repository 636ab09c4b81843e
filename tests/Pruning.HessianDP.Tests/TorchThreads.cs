namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>The models here are tiny: one intra-op thread avoids oversubscribing a shared 2-core machine.</summary>
[SetUpFixture]
public class TorchThreads
{
    [OneTimeSetUp]
    public void OneThread() => TorchSharp.torch.set_num_threads(1);
}
