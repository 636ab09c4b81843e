using System.Text.Json;
using Mono.Cecil;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>Each kind of bad input gets one clear message naming the file, key or plugin, and a non-zero exit.</summary>
public class BadInputTests
{
    /// <summary>Runs the blobs pipeline with these steps; the report it left (the run may have failed).</summary>
    private static (HostRunner.Result Result, JsonDocument Report, string Output) RunWithReport(string steps)
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline(steps));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        return (result, JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json"))), output);
    }

    private static HostRunner.Result RunPipeline(string steps, string datasetOptions = "{ \"Points\": 101 }") =>
        HostRunner.Run("run", HostRunner.WritePipeline(HostRunner.BlobsPipeline(steps, datasetOptions)).File, "--plugins", SamplePluginBuild.PluginRoot);

    [Test]
    public void An_unknown_step_lists_the_names_that_exist()
    {
        var result = RunPipeline("""{ "Use": "keep-every-nht" }""");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Use"));
        Assert.That(result.Errors, Does.Contain("'keep-every-nht'"));
        Assert.That(result.Errors, Does.Contain("keep-every-nth").And.Contain("inspect-data").And.Contain("train"));
    }

    [Test]
    public void An_unknown_dataset_lists_the_datasets()
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }""").Replace("gaussian-blobs", "gausian-blobs"));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("unknown dataset 'gausian-blobs'").And.Contain("gaussian-blobs"));
    }

    [Test]
    public void An_option_the_component_does_not_have_names_the_key_and_the_step()
    {
        var result = RunPipeline("""{ "Use": "keep-every-nth", "Options": { "Stirde": 3 } }""");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Options:Stirde"));
        Assert.That(result.Errors, Does.Contain("keep-every-nth"));
        Assert.That(result.Errors, Does.Contain("Stride"), "the message lists the options that exist");
    }

    [Test]
    public void A_value_of_the_wrong_type_names_the_key_and_the_value()
    {
        var result = RunPipeline("""{ "Use": "keep-every-nth", "Options": { "Stride": "two" } }""");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Options:Stride"));
        Assert.That(result.Errors, Does.Contain("'two'").And.Contain("integer"));
    }

    [Test]
    public void A_value_out_of_range_names_the_key_and_the_value()
    {
        var result = RunPipeline("""{ "Use": "keep-every-nth", "Options": { "Stride": 0 } }""");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Options:Stride = 0"));
        Assert.That(result.Errors, Does.Contain("between 1 and 1000"));
    }

    [Test]
    public void Zero_training_epochs_are_out_of_range_not_a_crash_after_the_checkpoint_is_overwritten()
    {
        var result = RunPipeline("""{ "Use": "train", "Options": { "Epochs": 0 } }""");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:0:Options:Epochs = 0").And.Contain("between 1 and 100000"));
    }

    [TestCase("..")]
    [TestCase("../../../x")]
    [TestCase("/tmp/elsewhere")]
    public void A_pipeline_name_that_is_not_a_plain_name_is_refused(string name)
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot, $"--Pipeline:Name={name}");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain($"Pipeline:Name: '{name}' is not a plain name"));
    }

    [Test]
    public void A_second_run_into_a_folder_a_run_is_writing_to_is_refused_and_the_folder_is_free_after()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        Directory.CreateDirectory(output);
        using (new FileStream(Path.Combine(output, ".run.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var refused = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
            Assert.That(refused.ExitCode, Is.EqualTo(2), refused.ToString());
            Assert.That(refused.Errors, Does.Contain("Pipeline:Output: another run is writing to"));
        }
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(File.Exists(Path.Combine(output, ".run.lock")), Is.False, "the lock goes with the run");
    }

    [Test]
    public void A_killed_runs_report_is_kept_as_interrupted_when_the_next_run_starts()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        Directory.CreateDirectory(output);
        // What a killed run leaves: a report that still says running, and no process holding the folder.
        File.WriteAllText(Path.Combine(output, "report.json"), """{ "pipeline": "test", "status": "running", "steps": [ { "index": 0, "use": "train", "status": "running" } ] }""");
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        var archive = Directory.GetDirectories(Path.Combine(output, "previous-runs")).Single();
        using var kept = JsonDocument.Parse(File.ReadAllText(Path.Combine(archive, "report.interrupted.json")));
        Assert.That(kept.RootElement.GetProperty("status").GetString(), Is.EqualTo("interrupted"));
        Assert.That(kept.RootElement.GetProperty("steps")[0].GetProperty("use").GetString(), Is.EqualTo("train"));
        using var current = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        Assert.That(current.RootElement.GetProperty("status").GetString(), Is.EqualTo("ok"));
    }

    [Test]
    public void More_threads_than_cores_are_refused()
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--Pipeline:Threads=100000");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Threads: 100000 is more than this machine's " + Environment.ProcessorCount + " cores"));
    }

    [TestCase("5000000000", "outside the seed range")]
    [TestCase("five", "is not a valid integer")]
    public void A_seed_that_is_not_a_32_bit_integer_says_which_it_is(string seed, string expected)
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var result = HostRunner.Run("check", file, "--plugins", SamplePluginBuild.PluginRoot, "--Pipeline:Seed=" + seed);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Seed").And.Contain(expected));
    }

    [Test]
    public void A_typo_in_the_pipeline_section_itself_is_named()
    {
        var (file, _) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }""").Replace("\"Seed\"", "\"Sed\""));
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("Pipeline:Sed"));
    }

    [Test]
    public void A_missing_pipeline_file_is_named()
    {
        var result = HostRunner.Run("run", "/nonexistent/pipe.json");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain("/nonexistent/pipe.json").And.Contain("not found"));
    }

    [Test]
    public void A_json_syntax_error_names_the_file_and_line()
    {
        var (file, _) = HostRunner.WritePipeline("{\n  \"Pipeline\": {\n    \"Name\": \"x\",,\n  }\n}\n");
        var result = HostRunner.Run("run", file);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain(file).And.Contain("line 3"));
    }

    [Test]
    public void A_yaml_syntax_error_names_the_file_and_line()
    {
        var (file, _) = HostRunner.WritePipeline("Pipeline:\n  Name: x\n  Steps:\n    - Use: [inspect-data\n  Seed: 1\n", ".yaml");
        var result = HostRunner.Run("run", file);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.Errors, Does.Contain(file).And.Contain("line 3").Or.Contain("line 4"));
    }

    [Test]
    public void A_yaml_alias_bomb_is_refused_at_once_naming_the_line()
    {
        // Nine levels of nine aliases each: 9^9 nodes once expanded (the provider grew to 7.7 GB on one like it).
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 10; i++)
            lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]");
        lines.Add("Pipeline:\n  Name: bomb\n  Dataset: { Use: gaussian-blobs }\n  Steps: *a9");
        var (file, _) = HostRunner.WritePipeline(string.Join("\n", lines) + "\n", ".yaml");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain(file).And.Contain("line 2").And.Contain("YAML aliases (*a0) are not accepted"));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)));
    }

    [Test]
    public void A_duplicate_yaml_key_is_named_with_its_line_not_silently_overwritten()
    {
        var (file, _) = HostRunner.WritePipeline("Pipeline:\n  Name: x\n  Seed: 1\n  Dataset: { Use: gaussian-blobs, Options: { Points: 5 } }\n  seed: 2\n  Steps: [ { Use: inspect-data } ]\n", ".yaml");
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("line 5").And.Contain("the key 'seed' appears twice"));
    }

    [Test]
    public void A_tab_in_yaml_indentation_is_named_at_its_own_line()
    {
        // YamlDotNet placed this error at line 1 (the start of the enclosing mapping).
        var (file, _) = HostRunner.WritePipeline("Pipeline:\n  Name: x\n  Dataset:\n\tUse: gaussian-blobs\n  Steps: [ { Use: inspect-data } ]\n", ".yaml");
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain($"{file}: YAML syntax error at line 4: a tab in the indentation"));
    }

    [Test]
    public void A_pipeline_file_over_a_mebibyte_is_refused_without_being_parsed()
    {
        var (file, _) = HostRunner.WritePipeline("# " + new string('x', 1 << 20) + "\nPipeline:\n  Name: x\n", ".yaml");
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.PluginRoot);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("a pipeline file may have at most 1048576"));
    }

    [Test]
    public void A_plugin_built_against_another_contracts_major_version_is_refused_by_name_and_the_others_load()
    {
        var root = TestPaths.NewTempDirectory("plugins-v2");
        var folder = Path.Combine(root, "Acme.Future");
        Directory.CreateDirectory(folder);
        // The sample plugin, renamed and rewritten to say it was built against the next major version of Platform.Abstractions.
        var next = new Version(Platform.Host.Composition.PluginCatalog.HostAbstractionsVersion.Major + 1, 0, 0, 0);
        using (var assembly = AssemblyDefinition.ReadAssembly(Path.Combine(SamplePluginBuild.PluginFolder, "Acme.PointStride.dll")))
        {
            assembly.Name.Name = "Acme.Future";
            assembly.MainModule.Name = "Acme.Future.dll";
            assembly.MainModule.AssemblyReferences.Single(r => r.Name == "Platform.Abstractions").Version = next;
            assembly.Write(Path.Combine(folder, "Acme.Future.dll"));
        }

        Assert.That(HostRunner.Run("plugins", "trust", root).ExitCode, Is.Zero, "trusted, so that loading it is what fails");
        var result = HostRunner.Run("plugins", "--plugins", root, "--plugins", SamplePluginBuild.PluginRoot);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Errors, Does.Contain("'Acme.Future'").And.Contain(next.ToString(3)).And.Contain("major"));
        Assert.That(result.Output, Does.Contain("keep-every-nth"), "the compatible plugin still loads");
    }

    [Test]
    public void A_plugin_assembly_that_cannot_load_is_reported_by_name_and_the_others_load()
    {
        var root = TestPaths.NewTempDirectory("plugins-broken");
        var folder = Path.Combine(root, "Broken.Plugin");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "Broken.Plugin.dll"), "MZ this is not an assembly"u8.ToArray());

        Assert.That(HostRunner.Run("plugins", "trust", root).ExitCode, Is.Zero, "trusted, so that loading it is what fails");
        var result = HostRunner.Run("plugins", "--plugins", root, "--plugins", SamplePluginBuild.PluginRoot);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Errors, Does.Contain("'Broken.Plugin'").And.Contain("could not load"));
        Assert.That(result.Output, Does.Contain("keep-every-nth"));
    }

    [Test]
    public void An_output_folder_outside_the_output_root_is_refused_before_anything_is_written()
    {
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline("""{ "Use": "inspect-data" }"""));
        var root = TestPaths.NewTempDirectory("output-root");

        var result = HostRunner.RunExactly("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--output-root", root);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Output").And.Contain("outside the output root").And.Contain("--output-root"));
        Assert.That(Directory.Exists(output), Is.False, "nothing is created outside the root");
        // The same pipeline under a root that holds its output folder runs.
        Assert.That(HostRunner.RunExactly("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--output-root", Path.GetDirectoryName(output)!).ExitCode, Is.Zero);
    }

    [Test]
    public void A_save_path_outside_the_output_root_is_refused_before_the_first_step_runs()
    {
        var outside = Path.Combine(TestPaths.NewTempDirectory("elsewhere"), "model.ckpt");
        var target = outside.Replace('\\', '/');
        var (file, output) = HostRunner.WritePipeline(HostRunner.BlobsPipeline(
            $$"""{ "Use": "train", "Options": { "Epochs": 1 } }, { "Use": "save", "Options": { "Path": "{{target}}" } }"""));

        var result = HostRunner.RunExactly("run", file, "--plugins", SamplePluginBuild.PluginRoot, "--output-root", Path.GetDirectoryName(output)!);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:1:Options:Path").And.Contain("outside the output root"));
        Assert.That(File.Exists(outside), Is.False);
        Assert.That(Directory.Exists(Path.Combine(output, "00-train-checkpoints")), Is.False, "refused before training");
    }

    [TestCase("--version")]
    [TestCase("--help")]
    public void Help_and_version_load_no_plugin(string flag)
    {
        // A trusted folder whose plugin cannot load: any attempt to load it is reported, as 'platform plugins' shows.
        var root = TestPaths.NewTempDirectory("plugins-unloaded");
        var folder = Path.Combine(root, "Broken.Plugin");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "Broken.Plugin.dll"), "MZ this is not an assembly"u8.ToArray());
        Assert.That(HostRunner.Run("plugins", "trust", root).ExitCode, Is.Zero);
        Assert.That(HostRunner.Run("plugins", "--plugins", root).Errors, Does.Contain("'Broken.Plugin'"), "the listing does load it");

        var result = HostRunner.Run("--plugins", root, flag);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Errors, Does.Not.Contain("Broken.Plugin"), "nothing was loaded, so nothing failed to load");
        Assert.That(result.Output, Is.Not.Empty);
    }

    [Test]
    public void An_unknown_evaluator_fails_before_the_first_step_runs()
    {
        var (result, report, _) = RunWithReport("""
            { "Use": "inspect-data" }, { "Use": "evaluate", "Options": { "Evaluator": "acuracy" } }
            """);
        using var disposeReport = report;

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:1:Options:Evaluator").And.Contain("'acuracy'"));
        Assert.That(report.RootElement.GetProperty("status").GetString(), Is.EqualTo("failed"));
        Assert.That(report.RootElement.GetProperty("steps").GetArrayLength(), Is.Zero, "no step ran, not even the first");
    }

    [Test]
    public void A_misspelt_evaluator_option_after_a_train_step_fails_before_training_starts()
    {
        var (file, output) = HostRunner.WritePipeline("""
            {
              "Pipeline": {
                "Name": "evaluator-option-typo", "Seed": 1, "Threads": 1, "Output": "$OUTPUT",
                "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 16, "ValCount": 8, "TestCount": 4, "Points": 64 } },
                "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64 } },
                "Steps": [
                  { "Use": "train", "Options": { "Epochs": 1, "BatchSize": 8 } },
                  { "Use": "evaluate", "Options": { "Evaluator": "accuracy", "EvaluatorOptions": { "TopK": "5" } } }
                ]
              }
            }
            """);
        var result = HostRunner.Run("run", file, "--plugins", SamplePluginBuild.BuiltPlugins);

        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:Steps:1:Options:EvaluatorOptions:TopK").And.Contain("evaluator 'accuracy' has no option 'TopK'"));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        Assert.That(report.RootElement.GetProperty("status").GetString(), Is.EqualTo("failed"));
        Assert.That(report.RootElement.GetProperty("steps").GetArrayLength(), Is.Zero, "the train step never started");
        Assert.That(Directory.GetDirectories(output, "00-train-*"), Is.Empty, "no training checkpoint was written");
    }

    [Test]
    public void A_run_that_fails_midway_keeps_the_report_of_the_steps_before()
    {
        var (result, report, output) = RunWithReport("""
            { "Use": "inspect-data" }, { "Use": "inspect-data", "Options": { "Split": "nosuchsplit" } }
            """);
        using var disposeReport = report;

        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        Assert.That(result.Errors, Does.Contain("step 1 'inspect-data' failed").And.Contain("nosuchsplit"));
        Assert.That(report.RootElement.GetProperty("status").GetString(), Is.EqualTo("failed"));
        var steps = report.RootElement.GetProperty("steps");
        Assert.That(steps[0].GetProperty("status").GetString(), Is.EqualTo("ok"));
        Assert.That(steps[0].GetProperty("metrics").GetProperty("meanPoints").GetDouble(), Is.EqualTo(101));
        Assert.That(steps[1].GetProperty("status").GetString(), Is.EqualTo("failed"));
        Assert.That(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories), Is.Empty, "no half-written files are left");
    }
}
