using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Waits for the work queued on a device. CUDA runs kernels asynchronously: a stopwatch read right after a forward
/// pass times the launches, not the work. Every timer that may run on a GPU calls <see cref="Wait"/> before reading.
/// </summary>
public static class DeviceSync
{
    public static void Wait(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }
}
