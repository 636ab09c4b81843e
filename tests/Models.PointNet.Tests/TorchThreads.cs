namespace Platform.Models.PointNet.Tests;

[SetUpFixture]
public sealed class TorchThreads : Platform.TestKit.OneTorchThread;
