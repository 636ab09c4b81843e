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
        random.manual_seed(7);
        using var scope = NewDisposeScope();
        var x = randn(2, 32, 12, 12);
        var weight = randn(32, 16, 2, 2) / 8;   // [in, out, k, k], kernel = stride as in the neck
        var grads = new List<Tensor>();
        foreach (var type in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var xi = x.to_type(type).detach().clone().requires_grad_(true);
            var wi = weight.to_type(type).detach().clone().requires_grad_(true);
            var y = nn.functional.conv_transpose2d(xi, wi, strides: [2, 2]);
            autograd.backward([y], [Upstream(y)]);
            grads.Add(xi.grad!);
            grads.Add(wi.grad!);
        }
        Assert.That(RelativeError(grads[0], grads[2]), Is.LessThan(1e-5), "input gradient");
        Assert.That(RelativeError(grads[1], grads[3]), Is.LessThan(1e-5), "weight gradient");
    }

    /// <summary>A fixed, non-trivial upstream gradient for the output y (same values in both precisions).</summary>
    private static Tensor Upstream(Tensor y) => arange(y.numel(), dtype: ScalarType.Float64).sin().reshape(y.shape).to_type(y.dtype);

    private static double RelativeError(Tensor actual, Tensor expected)
    {
        var a = actual.to_type(ScalarType.Float64);
        var difference = (a - expected).norm().item<double>();
        return double.IsFinite(difference) ? difference / expected.norm().item<double>() : double.PositiveInfinity;
    }
}
