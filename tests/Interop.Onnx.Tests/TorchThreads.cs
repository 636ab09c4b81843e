namespace Platform.Plugins.Interop.Onnx.Tests;

[SetUpFixture]
public sealed class TorchThreads : Platform.TestKit.OneTorchThread;
