using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Platform.Abstractions.Kit;
using Platform.Host;
using Platform.Host.Configuration;

namespace Platform.Bench;

/// <summary>
/// A bench grid as one Slurm job array: task I runs row I of the bench (its index in the bench's rows) with the platform
/// CLI and exactly the arguments the local runner gives that row, into the row's folder under the runs folder, which
/// must lie on storage every node sees. The table is then built by <c>--from-runs</c> over that folder, as after a local
/// run. A second submission sends only the rows that have no finished run (<c>--array=3,7</c>).
/// </summary>
public static class SlurmSweep
{
    public const string ScriptFile = "slurm-sweep.sh";
    public const string ManifestFile = "slurm-sweep.json";
    public const string LogFolder = "slurm-logs";

    /// <summary>Where array task <paramref name="index"/> writes its output (the #SBATCH --output pattern, %a filled in).</summary>
    public static string LogPath(string runsRoot, int index) => Path.Combine(runsRoot, LogFolder, index.ToString(CultureInfo.InvariantCulture) + ".log");

    /// <summary>One row as an array task: its index, and the platform CLI's arguments after 'dotnet platform.dll'.</summary>
    public sealed record SweepTask(int Index, BenchRow Row, IReadOnlyList<string> Arguments);

    /// <summary>Where the sweep's files go and what runs the platform: the paths are absolute, as the nodes need them.</summary>
    public sealed record Layout(string RunsRoot, string WorkingDirectory, string Dotnet, string PlatformDll);

    /// <summary>
    /// Writes the script and the manifest for the bench's unfinished rows and, unless <paramref name="dryRun"/>, submits the
    /// script with sbatch. Returns the process exit code (0: submitted or nothing left to run).
    /// </summary>
    public static int Submit(string benchFile, BenchDefinition definition, IReadOnlyList<(int Index, BenchRow Row)> rows, string runsRoot,
        string outputRoot, IReadOnlyList<string> pluginRoots, SlurmSettings settings, bool dryRun, TextWriter output)
    {
        var layout = new Layout(Path.GetFullPath(runsRoot), Directory.GetCurrentDirectory(), DotnetExecutable(), PlatformDll());
        var tasks = rows.Select(r => new SweepTask(r.Index, r.Row, CliArguments(definition, r.Row, runsRoot, outputRoot, pluginRoots))).ToList();
        var unfinished = new List<SweepTask>();
        foreach (var task in tasks)
        {
            var configuration = PipelineConfiguration.Load(task.Row.Pipeline, Program.RowOverrides(definition, task.Row, runsRoot));
            var (report, _) = Program.FinishedRun(Path.Combine(runsRoot, task.Row.Folder), configuration);
            if (report is null) unfinished.Add(task);
            else output.WriteLine($"row '{task.Row.Label}' (task {task.Index}): finished, not submitted again");
        }
        if (unfinished.Count == 0)
        {
            output.WriteLine($"Every row has a finished run in {runsRoot}: nothing to submit. Build the table with: bench-runner {benchFile} --from-runs --runs {runsRoot}");
            return 0;
        }
        var previousJob = ReadJobId(layout.RunsRoot);
        if (!dryRun && previousJob is not null && StillQueued(previousJob) is { Count: > 0 } queued)
            throw new PlatformException($"job {previousJob} of this sweep still has tasks queued or running ({string.Join(", ", queued)}): " +
                $"wait for them, or cancel it (scancel {previousJob}), before submitting its unfinished rows again.");

        var array = ArrayIndices(unfinished.Select(t => t.Index)) + (settings.MaxRunning is { } most ? $"%{most}" : "");
        var script = Script(definition, benchFile, tasks, array, settings, layout);
        var scriptPath = Path.Combine(layout.RunsRoot, ScriptFile);
        // Slurm does not create the folder of --output: without it every task would fail before it starts.
        Directory.CreateDirectory(Path.Combine(layout.RunsRoot, LogFolder));
        AtomicFile.WriteAllText(scriptPath, script);
        // A dry run keeps the last submitted job's id: the next real submission still checks that it has left the queue.
        WriteManifest(definition, benchFile, tasks, unfinished, array, layout, previousJob, scriptPath);
        if (dryRun)
        {
            output.WriteLine($"Wrote {scriptPath} ({unfinished.Count} of {tasks.Count} rows: --array={array}) and {Path.Combine(layout.RunsRoot, ManifestFile)}; submit with: sbatch --parsable {scriptPath}");
            return 0;
        }
        var submitted = Command("sbatch", ["--parsable", scriptPath]);
        if (submitted.ExitCode != 0)
            throw new PlatformException($"sbatch refused {scriptPath} (exit {submitted.ExitCode}): {submitted.Errors.Trim()}");
        // --parsable prints "JOBID" or "JOBID;CLUSTER".
        var jobId = submitted.Output.Trim().Split(';')[0];
        if (!Regex.IsMatch(jobId, "^[0-9]+$")) throw new PlatformException($"sbatch printed '{submitted.Output.Trim()}', not a job id.");
        WriteManifest(definition, benchFile, tasks, unfinished, array, layout, jobId, scriptPath);
        output.WriteLine($"Submitted job array {jobId} ({unfinished.Count} of {tasks.Count} rows: --array={array}); logs in {Path.Combine(layout.RunsRoot, LogFolder)}.");
        output.WriteLine($"When it has finished: bench-runner {benchFile} --from-runs --runs {runsRoot}");
        return 0;
    }

    /// <summary>The platform CLI's arguments for a row: 'run', the pipeline, the local runner's overrides, the output root and the plugin folders.</summary>
    public static List<string> CliArguments(BenchDefinition definition, BenchRow row, string runsRoot, string outputRoot, IReadOnlyList<string> pluginRoots) =>
        ["run", row.Pipeline, .. Program.RowOverrides(definition, row, runsRoot), "--output-root", Path.GetFullPath(outputRoot),
            .. pluginRoots.SelectMany(p => new[] { "--plugins", Path.GetFullPath(p) })];

    /// <summary>The job-array script: #SBATCH options, then one case per row that sets the CLI's arguments, each single-quoted.</summary>
    public static string Script(BenchDefinition definition, string benchFile, IReadOnlyList<SweepTask> tasks, string array, SlurmSettings settings, Layout layout)
    {
        var script = new StringBuilder();
        script.AppendLine("#!/bin/bash");
        script.AppendLine($"# Written by bench-runner --slurm for the bench '{definition.Name}': array task I runs row I (see {ManifestFile} beside this file).");
        script.AppendLine($"#SBATCH --job-name=bench-{definition.Name}");
        script.AppendLine($"#SBATCH --array={array}");
        script.AppendLine($"#SBATCH --output={SbatchPath(Path.Combine(layout.RunsRoot, LogFolder), "the runs folder")}/%a.log");
        script.AppendLine($"#SBATCH --chdir={SbatchPath(layout.WorkingDirectory, "the working directory")}");
        script.AppendLine("#SBATCH --ntasks=1");
        foreach (var option in settings.SbatchOptions()) script.AppendLine($"#SBATCH {option}");
        script.AppendLine("set -euo pipefail");
        script.AppendLine("case \"${SLURM_ARRAY_TASK_ID:-}\" in");
        foreach (var task in tasks)
        {
            script.AppendLine($"  {task.Index.ToString(CultureInfo.InvariantCulture)})");
            script.AppendLine($"    label={ShellQuote(task.Row.Label)}");
            script.AppendLine("    arguments=(" + string.Join(" ", task.Arguments.Select(ShellQuote)) + ") ;;");
        }
        script.AppendLine("  *) echo \"slurm-sweep: no row for array task '${SLURM_ARRAY_TASK_ID:-}'\" >&2; exit 2 ;;");
        script.AppendLine("esac");
        script.AppendLine("echo \"slurm-sweep: task ${SLURM_ARRAY_TASK_ID} (row '${label}') on $(hostname) at $(date -u +%FT%TZ)\"");
        script.AppendLine($"exec {ShellQuote(layout.Dotnet)} {ShellQuote(layout.PlatformDll)} \"${{arguments[@]}}\"");
        return script.ToString();
    }

    /// <summary>Single quotes for bash: nothing inside them is expanded, and a quote is closed, escaped and reopened.</summary>
    public static string ShellQuote(string text)
    {
        if (text.Contains('\0')) throw new PlatformException($"'{text.Replace("\0", "\\0")}': a NUL character cannot be passed on a command line.");
        return "'" + text.Replace("'", "'\\''") + "'";
    }

    /// <summary>Slurm's array list for the indices: runs of consecutive ones as ranges (0-3,7,9-10).</summary>
    public static string ArrayIndices(IEnumerable<int> indices)
    {
        var sorted = indices.Distinct().Order().ToList();
        var parts = new List<string>();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(j == i ? $"{sorted[i]}" : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }

    /// <summary>The job id the sweep in this runs folder was last submitted as (null: none, or a dry run only).</summary>
    public static string? ReadJobId(string runsRoot)
    {
        var path = Path.Combine(runsRoot, ManifestFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.TryGetProperty("jobId", out var id) && id.ValueKind == JsonValueKind.String && Regex.IsMatch(id.GetString()!, "^[0-9]+$")
                ? id.GetString() : null;
        }
        catch (JsonException)
        {
            return null;   // a damaged manifest: the next submission writes a new one
        }
    }

    /// <summary>Whether the runs folder holds a Slurm sweep (its manifest), so that unfinished rows can be shown with their logs.</summary>
    public static bool IsSweep(string runsRoot) => File.Exists(Path.Combine(runsRoot, ManifestFile));

    private static void WriteManifest(BenchDefinition definition, string benchFile, IReadOnlyList<SweepTask> tasks, IReadOnlyList<SweepTask> submitted, string array,
        Layout layout, string? jobId, string scriptPath)
    {
        var document = new Dictionary<string, object?>
        {
            ["bench"] = definition.Name,
            ["benchFile"] = benchFile,
            ["jobId"] = jobId,
            ["script"] = scriptPath,
            ["array"] = array,
            ["written"] = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            ["workingDirectory"] = layout.WorkingDirectory,
            ["tasks"] = tasks.Select(t => new Dictionary<string, object?>
            {
                ["index"] = t.Index,
                ["label"] = t.Row.Label,
                ["folder"] = Path.Combine(layout.RunsRoot, t.Row.Folder),
                ["log"] = LogPath(layout.RunsRoot, t.Index),
                ["submitted"] = submitted.Contains(t),
            }),
        };
        AtomicFile.WriteAllText(Path.Combine(layout.RunsRoot, ManifestFile), JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>An #SBATCH line is split on spaces and reads '%' as a pattern: a path there must be plain.</summary>
    private static string SbatchPath(string path, string what) =>
        Regex.IsMatch(path, "^[A-Za-z0-9/._+,=@-]+$") ? path
            : throw new PlatformException($"{what} '{path}' goes into an #SBATCH line, so it may hold only letters, digits and / . _ + , = @ - (no spaces, no '%').");

    private static List<string> StillQueued(string jobId)
    {
        var queue = Command("squeue", ["-h", "-j", jobId, "-o", "%i %T"]);
        // squeue fails for a job it no longer knows: nothing of it is queued.
        return queue.ExitCode != 0 ? [] : queue.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    /// <summary>The dotnet that runs bench-runner, when it was started as 'dotnet bench-runner.dll'; else the one on PATH.</summary>
    private static string DotnetExecutable() =>
        Environment.ProcessPath is { } process && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";

    /// <summary>The host CLI built beside bench-runner (artifacts/bench-runner/ next to artifacts/host/).</summary>
    private static string PlatformDll()
    {
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "host", "platform.dll"));
        return File.Exists(dll) ? dll : throw new PlatformException($"{dll}: the platform CLI is not built there (dotnet build Platform.sln -c Release builds it beside bench-runner).");
    }

    private sealed record CommandResult(int ExitCode, string Output, string Errors);

    private static CommandResult Command(string file, IEnumerable<string> arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return new CommandResult(process.ExitCode, output.Result, errors);
        }
        catch (Win32Exception)
        {
            throw new PlatformException($"'{file}' was not found: --slurm submits from a machine with Slurm's commands (sbatch, squeue); --dry-run only writes the script.");
        }
    }
}
