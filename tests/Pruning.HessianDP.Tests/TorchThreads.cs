namespace Platform.Plugins.Pruning.HessianDP.Tests;

[SetUpFixture]
public sealed class TorchThreads : Platform.TestKit.OneTorchThread;
