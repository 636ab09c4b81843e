namespace Platform.Plugins.Models.CenterPoint.Tests;

/// <summary>
/// One libtorch thread for this test assembly: on a shared 2-core machine, OpenMP's two threads spin-wait
/// on each other in every small op, which made these tests several times slower than one thread.
/// </summary>
[SetUpFixture]
public class SingleThreaded
{
    [OneTimeSetUp]
    public void UseOneThread() => TorchSharp.torch.set_num_threads(1);
}
