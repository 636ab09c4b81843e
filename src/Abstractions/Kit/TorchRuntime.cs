using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Process-wide settings of the native torch library that results depend on. Call <see cref="Initialize"/> before
/// the first forward or backward pass; it is idempotent and cheap after the first call. <see cref="Status"/> says
/// what it chose, for the run's log.
/// </summary>
/// <remarks>
/// Why: libtorch 2.10's oneDNN (mkldnn) kernel for the input gradient of a 3x3 float32 conv with few output channels
/// (1 to 8 measured; 16 is right) returns wrong values, sometimes NaN, with its AVX2 and AVX-512 code on the AMD EPYC
/// CPUs of our machines: 80-96% relative error against float64, on nearly every call; the forward pass is right.
/// CenterPoint's output convs have 1-3 channels, so every gradient reaching its trunk was wrong, and the NaN it
/// sometimes gave failed training at random. Capped at AVX (ONEDNN_MAX_CPU_ISA) the kernel is right and training
/// 1.4x slower than uncapped; with oneDNN off (PyTorch's im2col + BLAS) right and 3.3x slower (kitti-small, 1 thread).
/// So: cap oneDNN at AVX unless the user set the cap, check the gradients of those shapes against float64, and turn
/// oneDNN off where they are still wrong (a CPU or library where the cap came too late or does not help).
/// PLATFORM_ONEDNN=1 skips all of this (raw libtorch, for comparisons).
/// </remarks>
public static class TorchRuntime
{
    /// <summary>The conv shapes whose gradients decide (in, out channels; kernel 3, stride 1): CenterPoint's output convs.</summary>
    private static readonly (int In, int Out)[] ProbeShapes = [(16, 1), (16, 2), (32, 3), (32, 8)];
    private const double ProbeTolerance = 1e-4;

    private static readonly object Gate = new();
    private static bool _initialized;

    /// <summary>What <see cref="Initialize"/> did, in one line (null before it ran).</summary>
    public static string? Status { get; private set; }

    /// <summary>
    /// Whether oneDNN serves CPU ops in this process; null where libtorch does not export the setting under the
    /// Itanium C++ names (Windows).
    /// </summary>
    public static bool? OneDnnEnabled =>
        Export<UserEnabledMkldnn>("_ZNK2at7Context17userEnabledMkldnnEv", out var context) is { } get ? get(context) : null;

    public static void Initialize()
    {
        lock (Gate)
        {
            if (_initialized) return;
            _initialized = true;
            if (Environment.GetEnvironmentVariable("PLATFORM_ONEDNN") == "1")
            {
                Status = "oneDNN as libtorch configures it (PLATFORM_ONEDNN=1; conv gradients not checked)";
                return;
            }
            var userCap = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA");
            // oneDNN reads its cap once, at its first kernel; the process environment must hold it by then.
            if (userCap is null && OperatingSystem.IsLinux()) SetNativeEnvironment("ONEDNN_MAX_CPU_ISA", "AVX");
            var cap = userCap ?? (OperatingSystem.IsLinux() ? "AVX" : "not set");
            var error = WorstProbeError();
            if (error <= ProbeTolerance)
            {
                Status = $"oneDNN on, capped at ISA {cap}; conv gradients checked against float64 (relative error {error:G2})";
                return;
            }
            var switchedOff = SetOneDnn(false);
            var after = WorstProbeError();
            Status = switchedOff
                ? $"oneDNN off: its conv gradients were wrong on this CPU (relative error {error:G2} at ISA cap {cap}); without it {after:G2}"
                : $"WARNING: conv gradients are wrong on this CPU (relative error {error:G2}) and oneDNN cannot be switched off here";
        }
    }

    /// <summary>
    /// Relative error (L2) of the float32 gradients of a conv (input and weight; 3x3 kernel, stride 1, padding 1)
    /// against float64 on the same values; <paramref name="convolution"/> defaults to torch's conv2d. Infinity for a
    /// non-finite gradient.
    /// </summary>
    public static double ConvGradientError(int inChannels, int outChannels, int kernel = 3, int stride = 1,
        Func<Tensor, Tensor, Tensor>? convolution = null)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        using var generator = new Generator((ulong)(inChannels * 1000 + outChannels));
        var x = randn([2, inChannels, 24, 24], generator: generator);
        var weight = randn([outChannels, inChannels, kernel, kernel], generator: generator) / Math.Sqrt(inChannels * kernel * kernel);
        convolution ??= (input, w) => nn.functional.conv2d(input, w, strides: [stride, stride], padding: [kernel / 2, kernel / 2]);
        var single = Gradients(x, weight, convolution, ScalarType.Float32);
        var exact = Gradients(x, weight, convolution, ScalarType.Float64);
        return Math.Max(RelativeError(single.Input, exact.Input), RelativeError(single.Weight, exact.Weight));
    }

    /// <summary>
    /// The convolutions of <paramref name="module"/> whose float32 forward pass disagrees with float64 on the same values
    /// (relative L2 error above <paramref name="tolerance"/>, or not finite) at a <paramref name="size"/> x <paramref name="size"/>
    /// input: name, weight shape and error. Measured on these machines' AMD EPYC CPUs with libtorch 2.10: oneDNN's 3x3 kernels
    /// are wrong for some input-channel counts (capped at AVX: 12, 20, and 25-63 where not a multiple of 8; uncapped also
    /// 24, 40, 56), at larger inputs more of them, while multiples of 16 were right everywhere; widths a channel pruner
    /// chooses can land on any of them. 1x1 and 1-D convs were right.
    /// </summary>
    public static IReadOnlyList<(string Name, long[] Shape, double Error)> WrongConvolutions(nn.Module module, int size = 64, double tolerance = 1e-4,
        Func<Tensor, Tensor, TorchSharp.Modules.Convolution, Tensor>? convolution = null)
    {
        var wrong = new List<(string, long[], double)>();
        using var _ = no_grad();
        foreach (var (name, m) in module.named_modules())
        {
            if (m is not TorchSharp.Modules.Convolution conv || conv.weight is null || conv.kernel_size.Length != 2) continue;
            using var scope = NewDisposeScope();
            using var generator = new Generator((ulong)(conv.in_channels * 1000 + conv.out_channels));
            var weight = conv.weight.detach().cpu();
            var x = randn([1, conv.in_channels, size, size], generator: generator);
            Tensor Run(Tensor input, Tensor w) => convolution?.Invoke(input, w, conv) ?? (conv.transposed
                ? nn.functional.conv_transpose2d(input, w, null, conv.stride, conv.padding, conv.output_padding, conv.dilation, conv.groups)
                : nn.functional.conv2d(input, w, null, conv.stride, conv.padding, conv.dilation, conv.groups));
            var single = Run(x.to_type(ScalarType.Float32), weight.to_type(ScalarType.Float32));
            var exact = Run(x.to_type(ScalarType.Float64), weight.to_type(ScalarType.Float64));
            var error = RelativeError(single, exact);
            if (!(error <= tolerance)) wrong.Add((name, weight.shape, error));
        }
        return wrong;
    }

    private static double WorstProbeError() => ProbeShapes.Max(s => ConvGradientError(s.In, s.Out));

    private static (Tensor Input, Tensor Weight) Gradients(Tensor x, Tensor weight, Func<Tensor, Tensor, Tensor> convolution, ScalarType type)
    {
        var xi = x.to_type(type).detach().requires_grad_(true);
        var wi = weight.to_type(type).detach().requires_grad_(true);
        var y = convolution(xi, wi);
        // A fixed upstream gradient with the same values in both precisions.
        var upstream = arange(y.numel(), dtype: ScalarType.Float64).sin().reshape(y.shape).to_type(type);
        autograd.backward([y], [upstream]);
        return (xi.grad!, wi.grad!);
    }

    private static double RelativeError(Tensor actual, Tensor exact)
    {
        var difference = (actual.to_type(ScalarType.Float64) - exact).norm().item<double>();
        return double.IsFinite(difference) ? difference / exact.norm().item<double>() : double.PositiveInfinity;
    }

    /// <summary>Turns oneDNN on or off for CPU ops (PyTorch's torch.backends.mkldnn.enabled); false where that is not possible.</summary>
    public static bool SetOneDnn(bool enabled)
    {
        if (Export<SetUserEnabledMkldnn>("_ZN2at7Context20setUserEnabledMkldnnEb", out var context) is not { } set) return false;
        set(context, enabled);
        return true;
    }

    // .NET keeps its own copy of the environment; native code (oneDNN) reads the C library's.
    [DllImport("libc.so.6", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    private static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        _ = SetEnv(name, value, 0);
    }

    // at::globalContext() and member functions of at::Context, called with the context as the first argument (the
    // x86-64 and AArch64 C++ ABIs pass `this` that way). TorchSharp does not wrap them.
    private static T? Export<T>(string symbol, out IntPtr context) where T : Delegate
    {
        context = IntPtr.Zero;
        torch.InitializeDeviceType(DeviceType.CPU);
        // TorchSharp has loaded libtorch_cpu by now; loading it by its bare name returns that same copy.
        var name = OperatingSystem.IsWindows() ? "torch_cpu.dll" : OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so";
        if (!NativeLibrary.TryLoad(name, out var library) ||
            !NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var globalContext) ||
            !NativeLibrary.TryGetExport(library, symbol, out var function))
            return null;
        context = Marshal.GetDelegateForFunctionPointer<GlobalContext>(globalContext)();
        return Marshal.GetDelegateForFunctionPointer<T>(function);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GlobalContext();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool UserEnabledMkldnn(IntPtr context);
}
