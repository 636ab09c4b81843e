using Microsoft.Extensions.Logging;
using Platform.Abstractions.Kit;
using TorchSharp;

namespace Platform.Abstractions.Components;

/// <summary>
/// What every component of one run may use: the seed, the device, the output folder, logging and
/// progress. The host creates one per run and passes it to component constructors that ask for it.
/// </summary>
public sealed class RunServices
{
    public RunServices(int seed, torch.Device device, string outputDirectory, ILoggerFactory loggerFactory, IProgressReporter progress)
    {
        Seed = seed;
        Device = device;
        OutputDirectory = outputDirectory;
        LoggerFactory = loggerFactory;
        Progress = progress;
    }

    public int Seed { get; }
    public torch.Device Device { get; }
    public string OutputDirectory { get; }
    public ILoggerFactory LoggerFactory { get; }
    public IProgressReporter Progress { get; }

    public ILogger CreateLogger(string category) => LoggerFactory.CreateLogger(category);

    /// <summary>Services for code that runs outside a pipeline (tests, benchmarks): CPU, silent.</summary>
    public static RunServices ForTesting(int seed = 0, string? outputDirectory = null) =>
        new(seed, torch.CPU, outputDirectory ?? Path.Combine(Path.GetTempPath(), "platform-test-" + Guid.NewGuid().ToString("N")),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, NullProgressReporter.Instance);
}
