using System.Reflection;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// Builds the third-party sample plugin (samples/Acme.PointStride) once for the whole test run, the way
/// a plugin author would: with dotnet build, outside the solution, into a folder the host is pointed at.
/// </summary>
[SetUpFixture]
public sealed class SamplePluginBuild
{
    public static string PluginRoot { get; private set; } = "";
    public static string PluginFolder => Path.Combine(PluginRoot, "Acme.PointStride");
    /// <summary>The solution's plugins, as built by dotnet build Platform.sln.</summary>
    public static string BuiltPlugins => Path.Combine(TestPaths.RepoRoot, "artifacts", "plugins");
    public static string SamplePipeline => Path.Combine(TestPaths.RepoRoot, "samples", "Acme.PointStride", "pipeline.json");

    [OneTimeSetUp]
    public void BuildSample()
    {
        PluginRoot = TestPaths.NewTempDirectory("plugins");
        // Same configuration as these tests, so the already built contracts are found; no rebuild of them.
        var configuration = typeof(SamplePluginBuild).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var project = Path.Combine(TestPaths.RepoRoot, "samples", "Acme.PointStride", "Acme.PointStride.csproj");
        var build = ChildProcess.Run("dotnet", ["build", project, "-c", configuration, "-o", PluginFolder, "-p:BuildProjectReferences=false", "-nologo", "-v:q"]);
        Assert.That(build.ExitCode, Is.Zero, $"building the sample plugin failed:\n{build}");

        // As its author would before using it: trust the build (in a trust file of this test run, not the user's).
        TrustFile = Path.Combine(TestPaths.NewTempDirectory("trust"), "trusted-plugins.json");
        Environment.SetEnvironmentVariable("PLATFORM_TRUSTED_PLUGINS", TrustFile);
        var trusted = HostRunner.Run("plugins", "trust", PluginRoot);
        Assert.That(trusted.ExitCode, Is.Zero, trusted.ToString());
        // The solution's plugins: artifacts/plugins is the platform host's own folder, but not this test host's.
        trusted = HostRunner.Run("plugins", "trust", BuiltPlugins);
        Assert.That(trusted.ExitCode, Is.Zero, trusted.ToString());
    }

    /// <summary>The plugin trust file of this test run (PLATFORM_TRUSTED_PLUGINS).</summary>
    public static string TrustFile { get; private set; } = "";
}
