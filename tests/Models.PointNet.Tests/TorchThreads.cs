using TorchSharp;

namespace Platform.Models.PointNet.Tests;

/// <summary>
/// The tests' tensors are tiny: one intra-op thread avoids OpenMP's spin-waiting on a busy 2-core machine,
/// which costs more than the arithmetic.
/// </summary>
[SetUpFixture]
public sealed class TorchThreads
{
    [OneTimeSetUp]
    public void OneThread() => torch.set_num_threads(1);
}
