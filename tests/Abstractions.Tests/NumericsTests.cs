using Platform.Abstractions.Kit;
using static TorchSharp.torch;

namespace Platform.Abstractions.Tests;

/// <summary>
/// The native kernels that training and the Hessian estimates rest on, checked against float64 on the CPU that runs
/// the tests: a kernel that is wrong on one CPU model is invisible to every other test (training still lowers a loss).
/// </summary>
public class NumericsTests
{
    [OneTimeSetUp]
    public void Initialize() => TorchRuntime.Initialize();

    [Test]
    public void The_runtime_says_what_it_chose_and_leaves_convs_with_right_gradients()
    {
        if (Environment.GetEnvironmentVariable("PLATFORM_ONEDNN") == "1") Assert.Ignore("PLATFORM_ONEDNN=1 keeps libtorch's own settings.");
        Assert.That(TorchRuntime.Status, Does.StartWith("oneDNN on, capped at ISA").Or.StartWith("oneDNN off"));
        Assert.That(TorchRuntime.Status!.Contains("oneDNN off"), Is.EqualTo(TorchRuntime.OneDnnEnabled == false));
    }

    /// <summary>
    /// The shapes of CenterPoint's heads (3x3 convs to 1-3 channels) and of its trunk. With oneDNN's AVX2/AVX-512 code,
    /// on AMD EPYC, the input gradient of the few-output-channel cases was 80-96% off (and sometimes NaN); see TorchRuntime.
    /// </summary>
    [TestCase(16, 1, 3, 1)]
    [TestCase(16, 2, 3, 1)]
    [TestCase(32, 3, 3, 1)]
    [TestCase(32, 8, 3, 1)]
    [TestCase(16, 32, 3, 2)]
    [TestCase(32, 32, 3, 1)]
    [TestCase(9, 16, 1, 1)]
    public void A_conv_gives_the_float64_gradients_in_float32(int inChannels, int outChannels, int kernel, int stride) =>
        Assert.That(TorchRuntime.ConvGradientError(inChannels, outChannels, kernel, stride), Is.LessThan(1e-5));

    [Test]
    public void The_gradient_check_sees_a_convolution_whose_float32_gradient_is_off()
    {
        // Right in float64, and in float32 a term that shifts the input gradient by 1e-3 everywhere.
        Tensor Skewed(Tensor x, Tensor w) =>
            nn.functional.conv2d(x, w, padding: [1, 1]) + (x.dtype == ScalarType.Float32 ? x.sum() * 1e-3 : zeros(1, dtype: x.dtype));
        var error = TorchRuntime.ConvGradientError(16, 2, convolution: Skewed);
        Assert.That(error, Is.GreaterThan(1e-3).And.LessThan(1));
        Assert.That(TorchRuntime.ConvGradientError(16, 2, convolution: (x, w) => nn.functional.conv2d(x, w, padding: [1, 1])), Is.LessThan(1e-5));
    }

    [Test]
    public void A_transposed_conv_gives_the_float64_gradients_in_float32()
    {
        // The neck's upsampling: kernel = stride = 2, 32 channels in, 16 out (the checker's weight is [out, in, k, k]).
        var error = TorchRuntime.ConvGradientError(32, 16, kernel: 2,
            convolution: (x, w) => nn.functional.conv_transpose2d(x, w.transpose(0, 1), strides: [2, 2]));
        Assert.That(error, Is.LessThan(1e-5), "input and weight gradients");
    }

    [Test]
    public void A_convolution_whose_float32_forward_disagrees_with_float64_is_named_with_its_shape()
    {
        var module = nn.Sequential(("right", nn.Conv2d(16, 8, 3, padding: 1)), ("skewed", nn.Conv2d(32, 4, 3, padding: 1)));
        // A stand-in for a wrong kernel: the float32 result of the second conv is off by 1 %.
        Tensor Convolution(Tensor x, Tensor w, TorchSharp.Modules.Convolution conv)
        {
            var y = nn.functional.conv2d(x, w, null, conv.stride, conv.padding);
            return conv.in_channels == 32 && y.dtype == ScalarType.Float32 ? y * 1.01f : y;
        }
        var wrong = TorchRuntime.WrongConvolutions(module, size: 20, convolution: Convolution);
        Assert.That(wrong.Select(w => w.Name), Is.EqualTo(new[] { "skewed" }));
        Assert.That(wrong[0].Shape, Is.EqualTo(new long[] { 4, 32, 3, 3 }));
        Assert.That(wrong[0].Error, Is.EqualTo(0.01).Within(1e-4));
        module.Dispose();
    }
}
