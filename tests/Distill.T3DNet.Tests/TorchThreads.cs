namespace Platform.Distill.T3DNet.Tests;

[SetUpFixture]
public sealed class TorchThreads : Platform.TestKit.OneTorchThread;
