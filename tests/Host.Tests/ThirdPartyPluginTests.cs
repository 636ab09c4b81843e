using System.Text.Json;

namespace Platform.Host.Tests;

public class ThirdPartyPluginTests
{
    [Test]
    public void A_plugin_built_outside_the_solution_runs_in_a_pipeline_through_the_plugins_option()
    {
        var (file, output) = HostRunner.WritePipeline(File.ReadAllText(SamplePluginBuild.SamplePipeline)
            .Replace("runs/acme-point-stride", "$OUTPUT"));

        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var steps = report.RootElement.GetProperty("steps");
        Assert.That(steps.GetArrayLength(), Is.EqualTo(3));
        // 101 points per cloud; keeping every 4th point leaves ceil(101 / 4) = 26.
        Assert.That(steps[0].GetProperty("metrics").GetProperty("meanPoints").GetDouble(), Is.EqualTo(101));
        Assert.That(steps[1].GetProperty("use").GetString(), Is.EqualTo("keep-every-nth"));
        Assert.That(steps[2].GetProperty("metrics").GetProperty("meanPoints").GetDouble(), Is.EqualTo(26));
        var transform = report.RootElement.GetProperty("transforms")[0];
        Assert.That(transform.GetProperty("pointsIn").GetInt64(), Is.EqualTo(16 * 101));
        Assert.That(transform.GetProperty("pointsOut").GetInt64(), Is.EqualTo(16 * 26));
    }

    [Test]
    public void The_report_has_the_fields_every_tool_reads()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var root = report.RootElement;
        Assert.That(root.GetProperty("pipeline").GetString(), Is.EqualTo("test"));
        Assert.That(root.GetProperty("seed").GetInt32(), Is.EqualTo(1));
        var step = root.GetProperty("steps")[0];
        Assert.That(step.GetProperty("index").GetInt32(), Is.Zero);
        Assert.That(step.GetProperty("use").GetString(), Is.EqualTo("inspect-data"));
        Assert.That(step.TryGetProperty("seconds", out _), Is.True);
        Assert.That(step.TryGetProperty("metrics", out _), Is.True);
        Assert.That(File.Exists(Path.Combine(output, "report.md")), Is.True);
        Assert.That(File.Exists(Path.Combine(output, "run.log")), Is.True);
        var resolved = File.ReadAllText(Path.Combine(output, "config.resolved.json"));
        Assert.That(resolved, Does.Contain("gaussian-blobs"));
    }

    [Test]
    public void Plugins_lists_the_plugin_its_contracts_version_and_its_components_with_options()
    {
        var result = HostRunner.Run("plugins", "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Acme.PointStride"));
        Assert.That(result.Output, Does.Contain("0.1.0"));
        Assert.That(result.Output, Does.Contain("keep-every-nth"));
        Assert.That(result.Output, Does.Contain("Stride: integer = 2"));
        Assert.That(result.Output, Does.Contain("gaussian-blobs"));
        Assert.That(result.Output, Does.Contain("train"), "built-in steps are listed too");
    }

    [Test]
    public void Describe_prints_options_with_defaults_ranges_and_an_example_step()
    {
        var result = HostRunner.Run("describe", "keep-every-nth", "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("Stride"));
        Assert.That(result.Output, Does.Contain("1 to 1000"));
        Assert.That(result.Output, Does.Contain("\"Use\": \"keep-every-nth\""));
    }

    [Test]
    public void Describe_lists_the_options_of_each_part_of_a_model_under_the_parts_name()
    {
        var result = HostRunner.Run("describe", "centerpoint", "--plugins", SamplePluginBuild.BuiltPlugins);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Output, Does.Contain("PillarEncoder:PillarSize").And.Contain("Pillar edge in metres").And.Contain("0.01 to 10"));
        Assert.That(result.Output, Does.Contain("PostProcessing:ScoreThreshold"));
    }

    [Test]
    public void The_host_project_references_no_plugin()
    {
        var project = File.ReadAllText(Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "src", "Host", "Host.csproj"));
        Assert.That(project, Does.Not.Contain("plugins/"));
        Assert.That(project, Does.Not.Contain("samples/"));
        var references = typeof(Platform.Host.Cli.Program).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.That(references, Has.None.StartsWith("Models.").And.None.StartsWith("Datasets.").And.None.StartsWith("Pruning.").And.None.StartsWith("Distill."));
    }
}

public class DeviceTests
{
    [Test]
    public void Device_auto_runs_on_cuda_where_there_is_one_else_cpu_and_the_report_names_the_device_used()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }""").Replace("\"Seed\": 1,", "\"Seed\": 1, \"Device\": \"auto\","));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var expected = TorchSharp.torch.cuda.is_available() ? "cuda" : "cpu";
        Assert.That(report.RootElement.GetProperty("device").GetString(), Does.StartWith(expected));
    }

    [Test]
    public void An_unknown_device_is_refused_naming_the_key_and_the_choices()
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }""").Replace("\"Seed\": 1,", "\"Seed\": 1, \"Device\": \"gpu\","));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Device: 'gpu'").And.Contain("auto"));
    }
}
