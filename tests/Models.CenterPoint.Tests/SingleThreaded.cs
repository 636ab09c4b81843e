namespace Platform.Plugins.Models.CenterPoint.Tests;

[SetUpFixture]
public sealed class SingleThreaded : Platform.TestKit.OneTorchThread;
