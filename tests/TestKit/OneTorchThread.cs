namespace Platform.TestKit;

/// <summary>
/// Base of each test assembly's set-up fixture: one libtorch intra-op thread. The tests' tensors are tiny,
/// and on a shared 2-core machine OpenMP's threads spin-wait on each other in every small op (measured
/// 10-50x slower test runs with the default thread count). NUnit only runs set-up fixtures declared in the
/// test assembly itself, so each assembly derives one line from this. It also applies the platform's native
/// settings (TorchRuntime: oneDNN off), as the host does before a run.
/// </summary>
public abstract class OneTorchThread
{
    [OneTimeSetUp]
    public void UseOneThread()
    {
        TorchSharp.torch.set_num_threads(1);
        Platform.Abstractions.Kit.TorchRuntime.Initialize();
    }
}
