using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Platform.Bench;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>bench-runner --slurm without a cluster: the Slurm section, the folders rows write to, and the script's quoting (issue 17).</summary>
public class BenchSlurmScriptTests
{
    private static BenchDefinition Read(string yaml)
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("bench"), "bench.yaml");
        File.WriteAllText(file, yaml);
        return BenchDefinition.Read(new ConfigurationBuilder().AddYamlFile(file).Build(), file);
    }

    private static string WithSlurm(string slurm) => $"""
        Bench:
          Name: b
          Pipeline: p.json
          Rows:
            - Label: x
          Columns:
            - Value: run.seconds
          Slurm:
        {slurm}
        """;

    [Test]
    public void A_Slurm_section_key_that_does_not_exist_is_refused_naming_it()
    {
        var bench = Read(WithSlurm("    Gpu: 2"));
        var error = Assert.Throws<PlatformException>(() => SlurmSettings.From(bench.SlurmSection))!;
        Assert.That(error.Message, Does.Contain("Bench:Slurm:Gpu").And.Contain("unknown key").And.Contain("Gpus"));
    }

    [TestCase("Time", "1 hour")]
    [TestCase("Memory", "2G; touch /tmp/x")]
    [TestCase("Gpus", "-1")]
    [TestCase("CpusPerTask", "0")]
    [TestCase("Partition", "gpu debug")]
    [TestCase("MaxRunning", "many")]
    public void A_Slurm_value_not_in_the_form_sbatch_takes_is_refused_naming_its_key(string key, string value)
    {
        var bench = Read(WithSlurm($"    {key}: \"{value}\""));
        var error = Assert.Throws<PlatformException>(() => SlurmSettings.From(bench.SlurmSection))!;
        Assert.That(error.Message, Does.StartWith($"Bench:Slurm:{key}: '{value}'"));
    }

    [Test]
    public void Flags_override_the_bench_files_Slurm_section_and_GPUs_are_asked_as_generic_resources()
    {
        var bench = Read(WithSlurm("    Partition: cpu\n    Gpus: 1\n    Time: \"30\"\n    Memory: 4G"));
        var settings = SlurmSettings.From(bench.SlurmSection.Concat([("Partition", "gpu", "flag --partition"), ("Gpus", "2", "flag --gpus"), ("GpuType", "a100", "flag --gpu-type")]));
        Assert.That(settings.SbatchOptions(), Is.EqualTo(new[] { "--partition=gpu", "--gres=gpu:a100:2", "--cpus-per-task=1", "--time=30", "--mem=4G" }));
        Assert.That(SlurmSettings.From([("Gpus", "0", "flag --gpus")]).SbatchOptions(), Is.EqualTo(new[] { "--cpus-per-task=1" }), "no GPU asked: no --gres line");

        var error = Assert.Throws<PlatformException>(() => SlurmSettings.From([("Gpus", "two", "flag --gpus")]))!;
        Assert.That(error.Message, Does.StartWith("flag --gpus: 'two'"));
    }

    [TestCase("..", "'..'")]
    [TestCase(".hidden", "'.hidden'")]
    public void A_label_whose_folder_would_leave_the_runs_folder_or_hide_is_refused(string label, string folder)
    {
        var error = Assert.Throws<PlatformException>(() => Read($"Bench:\n  Pipeline: p.json\n  Rows:\n    - Label: \"{label}\"\n"))!;
        Assert.That(error.Message, Does.Contain($"row '{label}'").And.Contain(folder));
    }

    [Test]
    public void Two_labels_that_give_one_folder_are_refused_naming_both()
    {
        var error = Assert.Throws<PlatformException>(() => Read("Bench:\n  Pipeline: p.json\n  Rows:\n    - Label: lamp 2x\n    - Label: lamp/2x\n"))!;
        Assert.That(error.Message, Does.Contain("'lamp 2x'").And.Contain("'lamp/2x'").And.Contain("'lamp-2x'"));
    }

    [Test]
    public void An_override_outside_the_pipeline_is_refused_as_it_would_reach_a_command_line_as_an_option()
    {
        var error = Assert.Throws<PlatformException>(() => Read("Bench:\n  Pipeline: p.json\n  Overrides: [\"output-root=/\"]\n  Rows:\n    - Label: x\n"))!;
        Assert.That(error.Message, Does.Contain("Bench:Overrides:0").And.Contain("'output-root'"));
        error = Assert.Throws<PlatformException>(() => Read("Bench:\n  Pipeline: p.json\n  Grid:\n    - Name: a\n      Key: plugins\n      Values: [x]\n"))!;
        Assert.That(error.Message, Does.Contain("Bench:Grid:0:Key").And.Contain("'plugins'"));
    }

    [Test]
    public void Array_indices_are_listed_as_ranges_of_consecutive_tasks()
    {
        Assert.That(SlurmSweep.ArrayIndices([7, 0, 1, 2, 3, 9, 10]), Is.EqualTo("0-3,7,9-10"));
        Assert.That(SlurmSweep.ArrayIndices([4]), Is.EqualTo("4"));
    }

    [Test]
    public void A_submission_records_sbatchs_job_id_and_another_is_refused_while_that_job_is_still_queued()
    {
        // Stand-ins for Slurm's commands, first on PATH: sbatch records its arguments and answers as --parsable does.
        var bin = TestPaths.NewTempDirectory("fake-slurm");
        void Command(string name, string body)
        {
            File.WriteAllText(Path.Combine(bin, name), "#!/bin/sh\n" + body + "\n");
            File.SetUnixFileMode(Path.Combine(bin, name), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Command("sbatch", $"echo \"$@\" > {bin}/sbatch-arguments; echo '77;cluster'");
        Command("squeue", "[ \"$3\" = 77 ] && echo '77_2 PENDING'");
        var environment = new Dictionary<string, string> { ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH") };
        var sweep = TestPaths.NewTempDirectory("sweep-fake");
        string[] arguments = [TinyGrid.BenchFile, "--slurm", "--runs", sweep, "--output-root", TestPaths.ScratchRoot, "--max-running", "2"];

        var submitted = TinyGrid.BenchRunnerWith(environment, arguments);
        Assert.That(submitted.ExitCode, Is.Zero, submitted.ToString());
        Assert.That(submitted.Output, Does.Contain("Submitted job array 77 (4 of 4 rows: --array=0-3%2)"));
        Assert.That(File.ReadAllText(Path.Combine(bin, "sbatch-arguments")).Trim(), Is.EqualTo($"--parsable {sweep}/{SlurmSweep.ScriptFile}"));
        Assert.That(TinyGrid.JobId(sweep), Is.EqualTo("77"));

        var again = TinyGrid.BenchRunnerWith(environment, arguments);
        Assert.That(again.ExitCode, Is.EqualTo(2));
        Assert.That(again.Errors, Does.Contain("job 77 of this sweep still has tasks queued or running (77_2 PENDING)"));
    }

    [Test]
    public void The_script_passes_every_argument_to_the_platform_as_written_and_no_row_can_run_shell()
    {
        var scratch = TestPaths.NewTempDirectory("slurm-script");
        var canary = Path.Combine(scratch, "pwned");
        var hostile = $"x'; touch {canary}; echo '$(touch {canary})`touch {canary}`\" \\ * ~";
        var row = new BenchRow($"it's $(touch {canary})", "p.json",
            new Dictionary<string, string> { ["Pipeline:Steps:0:Options:Note"] = hostile, ["Pipeline:Seed"] = "1\n2" }, new Dictionary<string, string>());
        var definition = new BenchDefinition("b", "t", [row], [], [], [], []);
        var arguments = SlurmSweep.CliArguments(definition, row, Path.Combine(scratch, "runs"), scratch, []);
        // 'dotnet platform.dll ARGS' replaced by printf printing each argument NUL-terminated: what the platform would receive.
        var layout = new SlurmSweep.Layout(Path.Combine(scratch, "runs"), scratch, "printf", "%s\\0");
        var script = Path.Combine(scratch, "sweep.sh");
        File.WriteAllText(script, SlurmSweep.Script(definition, "b.yaml", [new SlurmSweep.SweepTask(0, row, arguments)], "0", new SlurmSettings(), layout));

        var run = ChildProcess.Run("bash", [script], scratch, new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "0" });
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var printed = run.Output[(run.Output.IndexOf('\n') + 1)..].Split('\0')[..^1];
        Assert.That(printed, Is.EqualTo(arguments));
        Assert.That(arguments, Does.Contain($"--Pipeline:Steps:0:Options:Note={hostile}"));
        Assert.That(File.Exists(canary), Is.False, "a row's text ran as a command");

        var other = ChildProcess.Run("bash", [script], scratch, new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "5" });
        Assert.That(other.ExitCode, Is.EqualTo(2));
        Assert.That(other.Errors, Does.Contain("no row for array task '5'"));
    }
}

/// <summary>
/// The small grid (bench/pointnet-tiny-grid.yaml: PointNet on procedural shapes, 2 seeds x 2 learning rates, a few seconds a
/// run) run by bench-runner here, once per test process: the table the Slurm path must give again.
/// </summary>
internal static class TinyGrid
{
    public const string BenchFile = "bench/pointnet-tiny-grid.yaml";
    /// <summary>The column that times the run: it differs between any two runs, so tables are compared without it.</summary>
    public const string TimingColumn = "run s";

    private static readonly Lazy<Dictionary<string, Dictionary<string, double?>>> Local = new(() =>
    {
        var folder = TestPaths.NewTempDirectory("tiny-grid-local");
        var run = BenchRunner(BenchFile, "--runs", Path.Combine(folder, "runs"), "--results", Path.Combine(folder, "results"), "--output-root", TestPaths.ScratchRoot);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        return Table(Path.Combine(folder, "results"));
    });

    public static Dictionary<string, Dictionary<string, double?>> LocalTable => Local.Value;

    /// <summary>bench-runner as a user runs it: the built program, from the repository root (the bench's pipeline paths are relative to it).</summary>
    public static ChildProcess.Result BenchRunner(params string[] arguments) => BenchRunnerWith(null, arguments);

    public static ChildProcess.Result BenchRunnerWith(IReadOnlyDictionary<string, string>? environment, params string[] arguments) =>
        ChildProcess.Run("dotnet", [Path.Combine(TestPaths.RepoRoot, "artifacts", "bench-runner", "bench-runner.dll"), .. arguments], TestPaths.RepoRoot, environment);

    /// <summary>Each row's values by label, the timing column left out.</summary>
    public static Dictionary<string, Dictionary<string, double?>> Table(string results)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(results, "pointnet-tiny-grid.json")));
        return json.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(
            row => row.GetProperty("label").GetString()!,
            row => row.GetProperty("values").EnumerateObject().Where(v => v.Name != TimingColumn)
                .ToDictionary(v => v.Name, v => v.Value.ValueKind == JsonValueKind.Null ? (double?)null : v.Value.GetDouble()));
    }

    /// <summary>Builds the table from a sweep's finished runs (--from-runs), into a fresh results folder.</summary>
    public static (ChildProcess.Result Run, string Results) Collect(string sweep)
    {
        var results = TestPaths.NewTempDirectory("tiny-grid-results");
        return (BenchRunner(BenchFile, "--from-runs", "--runs", sweep, "--results", results, "--output-root", TestPaths.ScratchRoot), results);
    }

    public static ChildProcess.Result Sweep(string sweep, params string[] more) =>
        BenchRunner([BenchFile, "--slurm", "--runs", sweep, "--output-root", TestPaths.ScratchRoot, .. more]);

    public static string? JobId(string sweep)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, SlurmSweep.ManifestFile)));
        return json.RootElement.GetProperty("jobId").GetString();
    }
}

/// <summary>The Slurm path's script run task by task as Slurm runs it (bash, SLURM_ARRAY_TASK_ID), then collected: the local table again.</summary>
public class BenchSlurmSweepTests
{
    [Test]
    public void The_job_array_script_run_task_by_task_gives_the_local_runners_table_and_a_missing_task_is_listed_then_resubmitted_alone()
    {
        var sweep = TestPaths.NewTempDirectory("sweep-by-hand");
        var written = TinyGrid.Sweep(sweep, "--dry-run");
        Assert.That(written.ExitCode, Is.Zero, written.ToString());
        var script = Path.Combine(sweep, SlurmSweep.ScriptFile);
        var lines = File.ReadAllLines(script);
        Assert.That(lines.Where(l => l.StartsWith("#SBATCH", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "#SBATCH --job-name=bench-pointnet-tiny-grid", "#SBATCH --array=0-3", $"#SBATCH --output={sweep}/slurm-logs/%a.log",
            $"#SBATCH --chdir={TestPaths.RepoRoot}", "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=1", "#SBATCH --time=00:10:00", "#SBATCH --mem=2G",
        }), "the bench file's Slurm section");
        Assert.That(TinyGrid.JobId(sweep), Is.Null, "a dry run submits nothing");

        // Tasks 0, 1 and 3 run; task 2 (row '1 0.003') never does.
        foreach (var task in new[] { 0, 1, 3 }) RunTask(script, task);
        var (partial, _) = TinyGrid.Collect(sweep);
        Assert.That(partial.ExitCode, Is.EqualTo(1), partial.ToString());
        Assert.That(partial.Errors, Does.Contain($"row '1 0.003': not run (no finished run in {sweep}/1-0.003); Slurm task 2, log {sweep}/slurm-logs/2.log"));
        Assert.That(partial.Errors, Does.Contain("1 of 4 rows have no finished run (Slurm tasks 2)"));

        var again = TinyGrid.Sweep(sweep, "--dry-run");
        Assert.That(again.ExitCode, Is.Zero, again.ToString());
        Assert.That(File.ReadAllLines(script), Does.Contain("#SBATCH --array=2"), "only the missing row");
        RunTask(script, 2);
        var (complete, results) = TinyGrid.Collect(sweep);
        Assert.That(complete.ExitCode, Is.Zero, complete.ToString());
        Assert.That(TinyGrid.Table(results), Is.EqualTo(TinyGrid.LocalTable));
        Assert.That(TinyGrid.LocalTable.Keys, Is.EqualTo(new[] { "0 0.003", "0 0.01", "1 0.003", "1 0.01" }));
    }

    [Test]
    public void Only_given_twice_selects_the_rows_whose_label_contains_either_text()
    {
        // Two processes on one machine split a bench this way (bench/t3dnet.yaml): each names the rows it runs.
        var sweep = TestPaths.NewTempDirectory("sweep-only");
        var written = TinyGrid.Sweep(sweep, "--dry-run", "--only", "0 0.003", "--only", "1 0.01");
        Assert.That(written.ExitCode, Is.Zero, written.ToString());
        Assert.That(File.ReadAllLines(Path.Combine(sweep, SlurmSweep.ScriptFile)), Does.Contain("#SBATCH --array=0,3"), "rows '0 0.003' and '1 0.01', the first and last of four");
    }

    [Test]
    public void A_run_of_some_rows_writes_its_table_beside_the_runs_and_leaves_the_committed_table_alone()
    {
        // Running one row again (--only) used to write a one-row table over bench/results/NAME.md, the committed table of
        // every row. The grid's committed table does not exist; it must still not appear.
        var committed = Path.Combine(TestPaths.RepoRoot, "bench", "results", "pointnet-tiny-grid.json");
        Assume.That(File.Exists(committed), Is.False);
        var runs = Path.Combine(TestPaths.NewTempDirectory("only-partial"), "runs");

        var run = TinyGrid.BenchRunner(TinyGrid.BenchFile, "--only", "1 0.01", "--runs", runs, "--output-root", TestPaths.ScratchRoot);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("1 of 4 rows"));
        Assert.That(File.Exists(committed), Is.False, "bench/results is left as it is");
        Assert.That(TinyGrid.Table(Path.Combine(runs, "partial-results")).Keys, Is.EquivalentTo(new[] { "1 0.01" }));
    }

    private static void RunTask(string script, int task)
    {
        // As slurmd would: in the script's --chdir (the repository root), with the task's index in the environment.
        var run = ChildProcess.Run("bash", [script], TestPaths.RepoRoot, new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = task.ToString() });
        Assert.That(run.ExitCode, Is.Zero, $"task {task}: {run}");
    }
}

/// <summary>
/// The same grid through a real Slurm: a one-node cluster on this machine (scripts/slurm/start-local-cluster.sh installs
/// Debian's slurm-wlm and munge if they are missing). Skipped only where the packages cannot be installed.
/// </summary>
[NonParallelizable]
public class BenchSlurmClusterTests
{
    private static readonly TimeSpan ArrayDeadline = TimeSpan.FromSeconds(180);

    [OneTimeSetUp]
    public void StartLocalCluster()
    {
        var script = Path.Combine(TestPaths.RepoRoot, "scripts", "slurm", "start-local-cluster.sh");
        var start = ChildProcess.Run("bash", [script]);
        // Exit 3: no apt-get, no registry, or not root on a machine without the packages: nothing to test against.
        if (start.ExitCode == 3) Assert.Ignore($"no Slurm here, and its packages cannot be installed: {start.Errors.Trim()}");
        Assert.That(start.ExitCode, Is.Zero, $"the local Slurm cluster did not start:\n{start}");
    }

    [Test]
    public void The_grid_submitted_as_a_job_array_gives_the_local_runners_table_and_a_rerun_submits_only_the_unfinished_row()
    {
        var sweep = TestPaths.NewTempDirectory("sweep-slurm");
        var submitted = TinyGrid.Sweep(sweep);
        Assert.That(submitted.ExitCode, Is.Zero, submitted.ToString());
        WaitForArray(TinyGrid.JobId(sweep)!, sweep);
        var (collected, results) = TinyGrid.Collect(sweep);
        Assert.That(collected.ExitCode, Is.Zero, collected.ToString());
        Assert.That(TinyGrid.Table(results), Is.EqualTo(TinyGrid.LocalTable));

        // A task whose run did not finish (its report gone): listed with its log, and the next --slurm submits it alone.
        File.Delete(Path.Combine(sweep, "0-0.01", "report.json"));
        var (partial, _) = TinyGrid.Collect(sweep);
        Assert.That(partial.ExitCode, Is.EqualTo(1));
        Assert.That(partial.Errors, Does.Contain($"row '0 0.01': not run (no finished run in {sweep}/0-0.01); Slurm task 1, log {sweep}/slurm-logs/1.log"));
        var first = TinyGrid.JobId(sweep);
        var resubmitted = TinyGrid.Sweep(sweep);
        Assert.That(resubmitted.ExitCode, Is.Zero, resubmitted.ToString());
        Assert.That(resubmitted.Output, Does.Contain("(1 of 4 rows: --array=1)"));
        Assert.That(TinyGrid.JobId(sweep), Is.Not.EqualTo(first));
        WaitForArray(TinyGrid.JobId(sweep)!, sweep);
        (collected, results) = TinyGrid.Collect(sweep);
        Assert.That(collected.ExitCode, Is.Zero, collected.ToString());
        Assert.That(TinyGrid.Table(results), Is.EqualTo(TinyGrid.LocalTable));
    }

    /// <summary>Until squeue no longer lists the job (bounded); on timeout the job is cancelled and the logs shown.</summary>
    private static void WaitForArray(string jobId, string sweep)
    {
        var deadline = DateTime.UtcNow + ArrayDeadline;
        while (DateTime.UtcNow < deadline)
        {
            var queue = ChildProcess.Run("squeue", ["-h", "-j", jobId, "-o", "%i %T"]);
            if (queue.ExitCode != 0 || queue.Output.Trim().Length == 0) return;
            Thread.Sleep(500);
        }
        ChildProcess.Run("scancel", [jobId]);
        var logs = Directory.GetFiles(Path.Combine(sweep, SlurmSweep.LogFolder)).Select(f => $"--- {f}\n{File.ReadAllText(f)}");
        Assert.Fail($"job {jobId} still queued or running after {ArrayDeadline.TotalSeconds} s; cancelled.\n{string.Join("\n", logs)}");
    }
}
