using System.Text.Json;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// A rerun into a used output folder (issue 15 §5): the earlier run's files move into previous-runs/ (or the run is
/// refused), never mixed with the new run's; a user's own files stay; Resume still finds the earlier epoch checkpoints.
/// </summary>
public class PreviousRunTests
{
    private static (string File, string Output) Pipeline(string trainOptions) => HostRunner.WritePipeline($$"""
        {
          "Pipeline": {
            "Name": "rerun", "Seed": 3, "Threads": 1, "Output": "$OUTPUT",
            "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "TrainCount": 48, "ValCount": 16, "TestCount": 8, "Points": 64 } },
            "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64, "InputTransform": false, "FeatureTransform": false } },
            "Steps": [
              { "Use": "train", "Options": {{trainOptions}} },
              { "Use": "save" }
            ]
          }
        }
        """);

    private static HostRunner.Result Run(string file, params string[] extra) =>
        HostRunner.Run(["run", file, "--plugins", SamplePluginBuild.BuiltPlugins, .. extra]);

    [Test]
    public void A_rerun_moves_the_earlier_runs_files_aside_and_leaves_the_users_own_files()
    {
        var (file, output) = Pipeline("""{ "Epochs": 2, "BatchSize": 16, "CheckpointEvery": 1 }""");
        Assert.That(Run(file).ExitCode, Is.Zero);
        var firstReport = File.ReadAllText(Path.Combine(output, "report.json"));
        var firstModel = File.ReadAllBytes(Path.Combine(output, "model.ckpt"));
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");

        var second = Run(file);

        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        var archives = Directory.GetDirectories(Path.Combine(output, "previous-runs"));
        Assert.That(archives, Has.Length.EqualTo(1));
        Assert.That(File.ReadAllText(Path.Combine(archives[0], "report.json")), Is.EqualTo(firstReport));
        Assert.That(File.ReadAllBytes(Path.Combine(archives[0], "model.ckpt")), Is.EqualTo(firstModel));
        Assert.That(Directory.GetFiles(Path.Combine(archives[0], "00-train-checkpoints"), "epoch-*.ckpt"), Has.Length.EqualTo(2));
        Assert.That(File.ReadAllText(Path.Combine(output, "notes.txt")), Is.EqualTo("mine"), "not the run's file: it stays");
        var top = Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order().ToArray();
        Assert.That(top, Is.EqualTo(new[] { "00-train-checkpoints", "config.resolved.json", "model.ckpt", "notes.txt", "plots", "previous-runs", "report.json", "report.md", "run.log" }));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        Assert.That(report.RootElement.GetProperty("status").GetString(), Is.EqualTo("ok"));
        Assert.That(File.ReadAllText(Path.Combine(output, "run.log")), Does.Contain("moved to").And.Contain("previous-runs"));
    }

    [Test]
    public void With_PreviousRun_Refuse_a_used_folder_is_refused_and_left_as_it_was()
    {
        var (file, output) = Pipeline("""{ "Epochs": 1, "BatchSize": 16 }""");
        Assert.That(Run(file).ExitCode, Is.Zero);
        var before = Directory.GetFileSystemEntries(output, "*", SearchOption.AllDirectories).Order().ToArray();
        var report = File.ReadAllText(Path.Combine(output, "report.json"));

        var refused = Run(file, "--Pipeline:PreviousRun=Refuse");

        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.ToString());
        Assert.That(refused.Errors, Does.Contain("Pipeline:Output").And.Contain("holds an earlier run").And.Contain("Pipeline:PreviousRun=Archive"));
        Assert.That(Directory.GetFileSystemEntries(output, "*", SearchOption.AllDirectories).Order().ToArray(), Is.EqualTo(before));
        Assert.That(File.ReadAllText(Path.Combine(output, "report.json")), Is.EqualTo(report));
    }

    [Test]
    public void A_policy_that_does_not_exist_names_the_key()
    {
        var (file, _) = Pipeline("""{ "Epochs": 1 }""");
        var result = Run(file, "--Pipeline:PreviousRun=Overwrite");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("Pipeline:PreviousRun: 'Overwrite' is not a policy"));
    }

    [Test]
    public void Resume_after_a_rerun_reads_the_archived_epoch_checkpoints_and_ends_with_the_same_weights()
    {
        // The first run stops after 2 of 3 epochs as a killed run would leave it: epoch checkpoints 1 and 2, no final model.
        var (file, output) = Pipeline("""{ "Epochs": 3, "BatchSize": 16, "CheckpointEvery": 1 }""");
        Assert.That(Run(file).ExitCode, Is.Zero);
        var uninterrupted = File.ReadAllBytes(Path.Combine(output, "model.ckpt"));
        foreach (var last in Directory.GetFiles(Path.Combine(output, "00-train-checkpoints"), "epoch-0003*")) File.Delete(last);
        File.Delete(Path.Combine(output, "model.ckpt"));

        var resumed = Run(file, "--Pipeline:Steps:0:Options:Resume=true");

        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        var log = File.ReadAllText(Path.Combine(output, "run.log"));
        Assert.That(log, Does.Contain("copied back").And.Contain("Resuming from epoch 2 of 3"));
        Assert.That(File.ReadAllBytes(Path.Combine(output, "model.ckpt")), Is.EqualTo(uninterrupted), "the resumed run ends where the uninterrupted one did");
    }
}
