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

    /// <summary>
    /// The folder a run may write into (its output folder lies below it; a step's own file paths must too), or null where
    /// nothing is contained (tests). A pipeline file is passed around: it must not be able to write anywhere else.
    /// </summary>
    public string? OutputRoot { get; init; }

    /// <summary>Where an earlier run in the same output folder was moved before this one started (null: there was none).</summary>
    public string? PreviousRunDirectory { get; init; }

    /// <summary>The full path of <paramref name="path"/>; refused, naming <paramref name="key"/>, when it lies outside <see cref="OutputRoot"/>.</summary>
    public string ContainedPath(string path, string key) => OutputContainment.Check(path, OutputRoot, key);

    /// <summary>Services for code that runs outside a pipeline (tests, benchmarks): CPU, silent.</summary>
    public static RunServices ForTesting(int seed = 0, string? outputDirectory = null) =>
        new(seed, torch.CPU, outputDirectory ?? Path.Combine(Path.GetTempPath(), "platform-test-" + Guid.NewGuid().ToString("N")),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, NullProgressReporter.Instance);
}
