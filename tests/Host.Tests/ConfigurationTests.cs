using System.Text.Json;

namespace Platform.Host.Tests;

public class ConfigurationTests
{
    private static double MeanPointsOfLastStep(string output)
    {
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        return report.RootElement.GetProperty("steps").EnumerateArray().Last().GetProperty("metrics").GetProperty("meanPoints").GetDouble();
    }

    private const string Steps = """{ "Use": "keep-every-nth", "Options": { "Stride": 2 } }, { "Use": "inspect-data" }""";

    [Test]
    public void A_command_line_override_replaces_a_value_deep_in_the_steps()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline(Steps));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--Pipeline:Steps:0:Options:Stride=10");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(MeanPointsOfLastStep(output), Is.EqualTo(11)); // ceil(101 / 10)
    }

    [TestCase("--seed", "5", "'seed'")]
    [TestCase("--plugin", "somewhere", "'plugin'")]
    [TestCase("--Seed=5", null, "'Seed'")]
    public void An_argument_that_no_pipeline_reads_is_refused_before_anything_runs(string argument, string? value, string named)
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline(Steps));
        string[] args = value is null ? ["run", file, "--plugins", SamplePluginBuild.PluginRoot, argument] : ["run", file, "--plugins", SamplePluginBuild.PluginRoot, argument, value];
        var result = HostRunner.Run(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain(named).And.Contain("--Pipeline:Seed=5"));
        Assert.That(File.Exists(Path.Combine(output, "report.json")), Is.False, "the run did not start");
    }

    [Test]
    public void An_environment_variable_overrides_the_file_and_is_overridden_by_the_command_line()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline(Steps));
        Environment.SetEnvironmentVariable("PLATFORM_Pipeline__Steps__0__Options__Stride", "5");
        try
        {
            var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(MeanPointsOfLastStep(output), Is.EqualTo(21)); // ceil(101 / 5)

            result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--Pipeline:Steps:0:Options:Stride", "50");
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
            Assert.That(MeanPointsOfLastStep(output), Is.EqualTo(3)); // ceil(101 / 50)
        }
        finally
        {
            Environment.SetEnvironmentVariable("PLATFORM_Pipeline__Steps__0__Options__Stride", null);
        }
    }

    [Test]
    public void A_yaml_pipeline_runs_like_its_json_twin()
    {
        var (file, output) = HostRunner.WritePipeline("""
            Pipeline:
              Name: yaml-test
              Seed: 1
              Output: $OUTPUT
              Dataset:
                Use: gaussian-blobs
                Options:
                  Points: 101
              Steps:
                - Use: keep-every-nth
                  Options:
                    Stride: 3
                - Use: inspect-data
            """, ".yaml");
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(MeanPointsOfLastStep(output), Is.EqualTo(34)); // ceil(101 / 3)
    }
}

public class ShippedPipelineTests
{
    /// <summary>Every pipeline we ship names existing components with valid options (found unchecked: gpu.json was new).</summary>
    [Test]
    public void Every_shipped_pipeline_passes_check()
    {
        var files = Directory.GetFiles(Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "pipelines"), "*.json");
        Assert.That(files, Is.Not.Empty);
        foreach (var file in files)
        {
            // As a user runs them: the output root is the current folder, which their relative outputs lie below.
            var result = HostRunner.RunExactly("check", file, "--plugins", SamplePluginBuild.BuiltPlugins);
            Assert.That(result.ExitCode, Is.Zero, $"{Path.GetFileName(file)}: {result}");
            Assert.That(result.Output, Does.StartWith("ok: "));
        }
    }

    [Test]
    public void Check_names_the_key_of_a_bad_option_and_runs_nothing()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var result = HostRunner.Run("check", file, "--plugins", SamplePluginBuild.PluginRoot, "--Pipeline:Steps:0:Use=no-such-step");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Use"));
        Assert.That(Directory.Exists(output), Is.False, "check creates no run folder");
    }
}
