using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Kit;
using Platform.Host;
using Platform.Host.Composition;
using Platform.Host.Configuration;
using Platform.Host.Pipeline;
using Platform.Host.Reporting;

namespace Platform.Bench;

/// <summary>
/// bench-runner BENCH_FILE [--plugins DIR]... [--only LABEL_SUBSTRING]... [--results DIR] [--runs DIR] [--output-root DIR] [--from-runs] [--compare RESULTS_JSON]
///   [--slurm [--dry-run] [--partition P] [--account A] [--gpus N] [--gpu-type T] [--cpus-per-task N] [--time T] [--mem M] [--max-running N]]
/// Runs every row of the bench through the host into RUNS/&lt;row&gt; (default runs/bench/&lt;name&gt;) and writes RESULTS/&lt;name&gt;.md,
/// .json and plots (with --only and no --results: RUNS/partial-results, so that the committed table is kept). With
/// --from-runs, no row is run: the table is built from the runs an earlier, interrupted invocation (or a Slurm sweep)
/// finished, each used only if its resolved configuration is the one this bench file gives the row; other rows are marked
/// not run. With --compare, the new table is checked against a committed results file (exit 3 when a value
/// with a committed interval lies outside it or is missing; a failed row's exit 1 comes first). With --slurm, no row is run here either: the unfinished rows go to Slurm as one job array
/// (<see cref="SlurmSweep"/>).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var help = args.Length > 0 && args[0] is "--help" or "-h";
        if (args.Length == 0 || help)
        {
            (help ? System.Console.Out : System.Console.Error).WriteLine("usage: bench-runner BENCH_FILE [--plugins DIR]... [--only TEXT]... [--results DIR] [--runs DIR] [--output-root DIR] [--from-runs] [--compare RESULTS_JSON]\n" +
                "       bench-runner BENCH_FILE --slurm [--dry-run] [--partition P] [--account A] [--gpus N] [--gpu-type T] [--cpus-per-task N] [--time T] [--mem M] [--max-running N] [--runs DIR] ...\n" +
                "--only TEXT runs the rows whose label contains TEXT (a substring: '1' also selects '10').");
            return help ? 0 : 2;
        }
        var invocation = new Invocation(args[0]) { Arguments = string.Join(' ', args) };
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--plugins" when i + 1 < args.Length: invocation.PluginRoots.Add(args[++i]); break;
                case "--only" when i + 1 < args.Length: invocation.Only.Add(args[++i]); break;
                case "--results" when i + 1 < args.Length: invocation.Results = args[++i]; break;
                case "--runs" when i + 1 < args.Length: invocation.Runs = args[++i]; break;
                case "--output-root" when i + 1 < args.Length: invocation.OutputRoot = args[++i]; break;
                case "--compare" when i + 1 < args.Length: invocation.Compare = args[++i]; break;
                case "--from-runs": invocation.FromRuns = true; break;
                case "--slurm": invocation.Slurm = true; break;
                case "--dry-run": invocation.DryRun = true; break;
                case var flag when SlurmSettings.Flags.TryGetValue(flag, out var key) && i + 1 < args.Length:
                    invocation.SlurmFlags.Add((key, args[++i], "flag " + flag));
                    break;
                default: System.Console.Error.WriteLine($"error: unknown argument '{args[i]}'"); return 2;
            }
        }
        if ((invocation.DryRun || invocation.SlurmFlags.Count > 0) && !invocation.Slurm)
        {
            System.Console.Error.WriteLine("error: --dry-run and the Slurm resource flags go with --slurm.");
            return 2;
        }
        if (invocation.Slurm && invocation.Compare is not null)
        {
            System.Console.Error.WriteLine("error: --compare checks a table this invocation writes; --slurm writes none (compare after --from-runs).");
            return 2;
        }
        if (invocation.Slurm && invocation.FromRuns)
        {
            System.Console.Error.WriteLine("error: --slurm submits the unfinished rows and --from-runs builds the table: one at a time.");
            return 2;
        }
        try
        {
            return Run(invocation);
        }
        catch (PlatformException e)
        {
            System.Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }

    /// <summary>One invocation's arguments.</summary>
    private sealed class Invocation(string file)
    {
        public string File { get; } = file;
        public string Arguments { get; init; } = "";
        public List<string> PluginRoots { get; } = [];
        /// <summary>Label substrings (--only, repeatable): a row runs when its label contains any of them; none given, every row runs.</summary>
        public List<string> Only { get; } = [];
        /// <summary>Where the table goes (--results); null: bench/results, or beside the runs when --only leaves rows out.</summary>
        public string? Results { get; set; }
        /// <summary>The folder of the bench's runs, one folder per row (default runs/bench/NAME); a Slurm sweep's shared folder.</summary>
        public string? Runs { get; set; }
        /// <summary>The folder runs may write below (the host's --output-root); default: the current folder.</summary>
        public string? OutputRoot { get; set; }
        public bool FromRuns { get; set; }
        /// <summary>A committed results .json to compare the new table with (<see cref="RegenerationCheck"/>); read before it can be overwritten.</summary>
        public string? Compare { get; set; }
        public bool Slurm { get; set; }
        public bool DryRun { get; set; }
        public List<(string Key, string Value, string Source)> SlurmFlags { get; } = [];
    }

    private static int Run(Invocation invocation)
    {
        var file = invocation.File;
        var definition = BenchDefinition.Read(PipelineConfiguration.Load(file, []), file);
        var runsRoot = invocation.Runs ?? Path.Combine("runs", "bench", definition.Name);
        var outputRoot = Path.GetFullPath(invocation.OutputRoot ?? Directory.GetCurrentDirectory());
        var selected = definition.Rows.Select((row, index) => (Index: index, Row: row))
            .Where(r => invocation.Only.Count == 0 || invocation.Only.Any(text => r.Row.Label.Contains(text, StringComparison.Ordinal))).ToList();
        if (invocation.Slurm)
        {
            var settings = SlurmSettings.From(definition.SlurmSection.Concat(invocation.SlurmFlags));
            return SlurmSweep.Submit(file, definition, selected, runsRoot, outputRoot, invocation.PluginRoots, settings, invocation.DryRun, System.Console.Out);
        }
        // A run of some rows must not replace the committed table of all of them: without --results, its table goes
        // beside the runs, and --from-runs writes the whole table once every row has run.
        var committedResults = Path.Combine("bench", "results");
        var partial = invocation.Results is null && selected.Count < definition.Rows.Count;
        var resultsDirectory = invocation.Results ?? (partial ? Path.Combine(runsRoot, "partial-results") : committedResults);
        if (partial)
            System.Console.WriteLine($"--only selects {selected.Count} of {definition.Rows.Count} rows: their table goes to {resultsDirectory}; {committedResults} is left as it is.");
        var arguments = invocation.Arguments;
        // The committed table, read and checked now: this invocation may overwrite that very file.
        var committed = invocation.Compare is { } compareFile ? ReadCommitted(compareFile) : null;
        var fromRuns = invocation.FromRuns;
        using var host = PlatformHost.Build(invocation.PluginRoots);
        foreach (var refused in host.Catalog.Plugins.Where(p => !p.Loaded))
            System.Console.Error.WriteLine($"warning: plugin '{refused.Name}' not loaded: {refused.Error}");

        var outcomes = new List<(BenchRow Row, RunReport? Report, string? Error)>();
        var unfinished = new List<int>();
        var sweep = fromRuns && SlurmSweep.IsSweep(runsRoot);
        var watch = Stopwatch.StartNew();
        foreach (var (index, row) in selected)
        {
            System.Console.WriteLine($"=== {definition.Name}: {row.Label}");
            try
            {
                var configuration = PipelineConfiguration.Load(row.Pipeline, RowOverrides(definition, row, runsRoot));
                if (fromRuns)
                {
                    var (report, why) = FinishedRun(Path.Combine(runsRoot, row.Folder), configuration);
                    if (report is null)
                    {
                        unfinished.Add(index);
                        // A Slurm task's own log says why it failed (or that it never started).
                        if (sweep) why += $"; Slurm task {index}, log {SlurmSweep.LogPath(runsRoot, index)}";
                        System.Console.Error.WriteLine($"row '{row.Label}': {why}");
                    }
                    outcomes.Add((row, report, why));
                    continue;
                }
                outcomes.Add((row, new PipelineRunner(host) { OutputRoot = outputRoot }.Run(configuration, row.Pipeline), null));
            }
            catch (Exception e) when (e is PlatformException or StepFailedException)
            {
                System.Console.Error.WriteLine($"error in row '{row.Label}': {e.Message}");
                outcomes.Add((row, null, e.Message));
            }
        }

        var provenance = Provenance(outcomes, definition.MixedCheckpoints, definition.MixedData);
        CheckSameData(definition, provenance);
        Directory.CreateDirectory(resultsDirectory);
        var table = outcomes.Select(o => definition.Columns.Select(c => o.Report is null ? double.NaN : Value(c, o.Row, o.Report)).ToArray()).ToList();
        // Interval bounds of the columns that ask for them: the same value spec with /lo and /hi appended.
        var bounds = outcomes.Select(o => definition.Columns.Select(c => !c.Interval || o.Report is null ? (double.NaN, double.NaN)
            : (Value(c with { Value = c.Value + "/lo" }, o.Row, o.Report), Value(c with { Value = c.Value + "/hi" }, o.Row, o.Report))).ToArray()).ToList();
        var summary = Summarize(definition, outcomes.Select(o => o.Row).ToList(), table);
        var paired = definition.SummarizeOver is { } repeat
            ? PairedDifferences.Compute(definition.Paired, repeat, outcomes.Select(o => o.Row).ToList(), definition.Columns.Select(c => c.Header).ToList(), table) : [];
        WriteJson(definition, outcomes, table, bounds, summary, paired, provenance, Path.Combine(resultsDirectory, definition.Name + ".json"), arguments, watch.Elapsed.TotalSeconds, runsRoot);
        var plotFiles = definition.Plots.Select(p => Plot(definition, p, outcomes.Select(o => o.Row).ToList(), table, resultsDirectory)).ToList();
        foreach (var (row, match) in definition.CollectPlots)
        {
            var runFolder = Path.Combine(runsRoot, BenchRow.FolderName(row), "plots");
            if (!Directory.Exists(runFolder)) continue;
            foreach (var png in Directory.GetFiles(runFolder, "*.png").Where(f => Path.GetFileName(f).Contains(match, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                var target = Path.Combine(resultsDirectory, $"{definition.Name}-{BenchRow.FolderName(row)}-{Path.GetFileName(png)}");
                AtomicFile.WriteAllBytes(target, File.ReadAllBytes(png));
                plotFiles.Add(target);
            }
        }
        WriteMarkdown(definition, outcomes, table, bounds, summary, paired, provenance, plotFiles, Path.Combine(resultsDirectory, definition.Name + ".md"), arguments, watch.Elapsed.TotalSeconds, runsRoot);
        System.Console.WriteLine($"Wrote {Path.Combine(resultsDirectory, definition.Name)}.md and .json ({outcomes.Count} runs, {watch.Elapsed.TotalMinutes:F1} min).");
        var outside = 0;
        if (committed is not null)
        {
            using var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(resultsDirectory, definition.Name + ".json")));
            outside = RegenerationCheck.Print(RegenerationCheck.Compare(committed, written.RootElement), invocation.Compare!, System.Console.Out);
        }
        if (sweep && unfinished.Count > 0)
            System.Console.Error.WriteLine($"{unfinished.Count} of {outcomes.Count} rows have no finished run (Slurm tasks {SlurmSweep.ArrayIndices(unfinished)}); " +
                $"submit only them with: bench-runner {file} --slurm --runs {runsRoot}");
        return outcomes.Any(o => o.Error is not null) ? 1 : outside > 0 ? 3 : 0;
    }

    /// <summary>A --compare file's rows. A results file is kilobytes: at most a cap is read (a pipe or a device gives no length to trust).</summary>
    private static IReadOnlyDictionary<string, RegenerationCheck.Row> ReadCommitted(string file)
    {
        const int maxBytes = 64 << 20;
        byte[] bytes;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read);
            using var buffer = new MemoryStream();
            var chunk = new byte[1 << 16];
            int read;
            while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes) throw new PlatformException($"--compare {file}: more than {maxBytes} bytes; a results file is far smaller.");
            }
            bytes = buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PlatformException($"--compare {file}: cannot be read ({e.Message})", e);
        }
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return RegenerationCheck.Committed(document.RootElement, file);
        }
        catch (JsonException e)
        {
            throw new PlatformException($"--compare {file}: cannot be read as JSON ({e.Message})", e);
        }
    }

    /// <summary>
    /// The overrides a row runs with, here and in a Slurm task alike: the bench's own, then its output folder
    /// (RUNS/&lt;row folder&gt;) and its run name.
    /// </summary>
    public static List<string> RowOverrides(BenchDefinition definition, BenchRow row, string runsRoot) =>
        row.Overrides.Select(kv => $"--{kv.Key}={kv.Value}")
            .Append($"--Pipeline:Output={Path.Combine(runsRoot, row.Folder)}")
            .Append($"--Pipeline:Name={definition.Name}-{row.Folder}")
            .ToList();

    /// <summary>The report of the row's finished run, if its folder holds one made from the configuration the row gives now.</summary>
    public static (RunReport? Report, string? Why) FinishedRun(string folder, IConfiguration configuration)
    {
        var reportFile = Path.Combine(folder, "report.json");
        var configFile = Path.Combine(folder, "config.resolved.json");
        if (!File.Exists(reportFile) || !File.Exists(configFile)) return (null, $"not run (no finished run in {folder})");
        if (File.ReadAllText(configFile) != PipelineDefinition.ResolvedJson(configuration))
            return (null, $"not run (the run in {folder} was made from another configuration)");
        // The report's collections are get-only: filled in place, as the runner filled them.
        var options = new JsonSerializerOptions(RunReport.Json) { PreferredObjectCreationHandling = System.Text.Json.Serialization.JsonObjectCreationHandling.Populate };
        var report = JsonSerializer.Deserialize<RunReport>(File.ReadAllText(reportFile), options);
        if (report is null || report.Status != "ok")
        {
            // A failed run says which step failed and why (an infeasible budget, say): the table shows that, not just "failed".
            var failed = report?.Steps.LastOrDefault(s => s.Error is not null);
            var why = failed is null ? report?.Status ?? "unreadable" : $"{report!.Status}: step {failed.Index} '{failed.Use}': {failed.Error}";
            return (null, $"not run (the run in {folder} did not finish: {why})");
        }
        return (report, null);
    }

    /// <summary>
    /// A B arm read from another bench's results must have been made from the same data as this bench's rows: a paired
    /// difference across two data sets would measure the data. Both provenances name their data ("data ..." entries).
    /// </summary>
    public static void CheckSameData(BenchDefinition definition, IReadOnlyDictionary<string, string> provenance)
    {
        foreach (var comparison in definition.Paired)
        {
            if (comparison.BFrom is not { } external) continue;
            // "data root" is where the data lay on the machine that ran it, not what the data was.
            foreach (var (key, value) in provenance.Where(e => e.Key.StartsWith("data ", StringComparison.Ordinal) && e.Key != "data root"))
                if (external.Provenance.TryGetValue(key, out var other) && other != value)
                    throw new PlatformException($"Paired {comparison.Label}: this bench's rows have {key} {value}, the rows of '{external.Path}' {other}; a paired difference needs the same data (the runs are kept: mend the bench file, then --from-runs).");
        }
    }

    /// <summary>
    /// What every row was made from: the checkpoint its load step read (SHA-256) and the dataset's description. A
    /// table mixing checkpoints or data would compare unlike things, so it is refused, naming the rows, unless the bench
    /// says its rows are meant to differ there. Data that differs by row is then not named in the table's header.
    /// </summary>
    public static Dictionary<string, string> Provenance(IReadOnlyList<(BenchRow Row, RunReport? Report, string? Error)> outcomes, bool mixedCheckpoints = false, bool mixedData = false)
    {
        var made = outcomes.Where(o => o.Report is not null).Select(o => (o.Row.Label, Report: o.Report!)).ToList();
        var checkpoints = made.Select(m => (m.Label, Checkpoint: m.Report.Steps.FirstOrDefault(s => s.Use == "load" && s.Provenance?.ContainsKey("checkpointSha256") == true)?.Provenance))
            .Where(c => c.Checkpoint is not null).ToList();
        var distinct = checkpoints.GroupBy(c => c.Checkpoint!["checkpointSha256"]).ToList();
        if (distinct.Count > 1 && !mixedCheckpoints)
            throw new PlatformException("the rows were made from different checkpoints, so their figures cannot share a table: " +
                string.Join("; ", distinct.Select(g => $"{g.First().Checkpoint!["checkpoint"]} (SHA-256 {g.Key[..12]}...) in rows {string.Join(", ", g.Select(c => c.Label))}")));
        var datasets = made.GroupBy(m => string.Join(";", m.Report.Dataset.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value))).ToList();
        if (datasets.Count > 1 && !mixedData)
            throw new PlatformException("the rows were made on different data, so their figures cannot share a table: " +
                string.Join("; ", datasets.Select(g => $"{g.Key} in rows {string.Join(", ", g.Select(m => m.Label))}")));
        var provenance = made.Count == 0 || datasets.Count > 1 ? new Dictionary<string, string>() : made[0].Report.Dataset.ToDictionary(kv => "data " + kv.Key, kv => kv.Value);
        if (checkpoints.Count > 0 && distinct.Count == 1)
        {
            provenance["checkpoint"] = checkpoints[0].Checkpoint!["checkpoint"];
            provenance["checkpoint SHA-256"] = distinct[0].Key;
        }
        return provenance;
    }

    public sealed record Correlation(string X, string Y, double Spearman, int Rows);

    /// <summary>Spearman's ρ of each requested column pair over the rows where both values exist.</summary>
    public static List<Correlation> Correlate(BenchDefinition d, IReadOnlyList<double[]> table)
    {
        int Index(string header) => d.Columns.ToList().FindIndex(c => c.Header == header);
        return d.Correlations.Select(pair =>
        {
            var (x, y) = (Index(pair.X), Index(pair.Y));
            var both = table.Where(r => !double.IsNaN(r[x]) && !double.IsNaN(r[y])).ToList();
            return new Correlation(pair.X, pair.Y, both.Count < 3 ? double.NaN : RankCorrelation.Spearman(both.Select(r => r[x]).ToList(), both.Select(r => r[y]).ToList()), both.Count);
        }).ToList();
    }

    /// <summary>
    /// A group of rows that differ only in the summarized axis, with each column's mean, sample standard deviation and
    /// the 95 % Student-t interval of the mean (<c>Low</c>, <c>High</c>); <c>Count</c> is the rows that produced figures.
    /// </summary>
    public sealed record SummaryRow(string Group, int Count, double[] Mean, double[] StandardDeviation, double[] Low, double[] High);

    /// <summary>Rows grouped by every axis but <see cref="BenchDefinition.SummarizeOver"/>; failed rows (NaN) left out per column.</summary>
    public static List<SummaryRow> Summarize(BenchDefinition d, IReadOnlyList<BenchRow> rows, IReadOnlyList<double[]> table)
    {
        if (d.SummarizeOver is not { } over) return [];
        var groups = rows.Select((r, i) => (Key: string.Join(" ", r.Axes.Where(a => a.Key != over).Select(a => a.Value)), Index: i, Repeat: r.Axes.ContainsKey(over)))
            .Where(g => g.Repeat).GroupBy(g => g.Key);
        var result = new List<SummaryRow>();
        foreach (var group in groups)
        {
            var mean = new double[d.Columns.Count];
            var sd = new double[d.Columns.Count];
            var low = new double[d.Columns.Count];
            var high = new double[d.Columns.Count];
            for (var j = 0; j < d.Columns.Count; j++)
            {
                var values = group.Select(g => table[g.Index][j]).Where(v => !double.IsNaN(v)).ToArray();
                (mean[j], sd[j], low[j], high[j]) = PairedDifferences.MeanInterval(values);
            }
            // n counts the runs that produced figures: a row that failed or was never run has none, and counting it
            // would claim a mean over more repeats than it holds.
            var finished = group.Count(g => table[g.Index].Any(v => !double.IsNaN(v)));
            result.Add(new SummaryRow(group.Key.Length == 0 ? "all" : group.Key, finished, mean, sd, low, high));
        }
        return result;
    }

    private static double Value(BenchColumn column, BenchRow row, RunReport report)
    {
        var spec = column.Value;
        double raw;
        if (spec.StartsWith("axis:", StringComparison.Ordinal))
        {
            raw = double.TryParse(row.Axes.GetValueOrDefault(spec[5..]), CultureInfo.InvariantCulture, out var a) ? a : double.NaN;
        }
        else if (spec == "run.seconds")
        {
            raw = report.Seconds;
        }
        else if (spec.StartsWith("seconds:", StringComparison.Ordinal))
        {
            // The time a run spent in the steps of one component (pipelines that place their steps differently line up).
            var use = spec[8..];
            var matching = report.Steps.Where(s => s.Use == use).ToList();
            raw = matching.Count == 0 ? double.NaN : matching.Sum(s => s.Seconds);
        }
        else
        {
            var steps = report.Steps.AsEnumerable();
            var field = spec;
            if (spec.StartsWith("step[", StringComparison.Ordinal))
            {
                var close = spec.IndexOf(']');
                var index = int.Parse(spec[5..close], CultureInfo.InvariantCulture);
                if (index < 0) index += report.Steps.Count;
                steps = report.Steps.Where(s => s.Index == index);
                field = spec[(close + 2)..];
            }
            raw = Field(steps.Reverse(), field);
        }
        return raw * column.Scale;
    }

    private static double Field(IEnumerable<StepReport> stepsLastFirst, string field)
    {
        foreach (var step in stepsLastFirst)
        {
            if (field.StartsWith("metric:", StringComparison.Ordinal))
            {
                if (step.Metrics.TryGetValue(field[7..], out var v)) return v;
                continue;
            }
            switch (field)
            {
                case "seconds": return step.Seconds;
                case "model.flops" when step.Model is not null: return step.Model.Flops;
                case "model.denseFlops" when step.Model is not null: return step.Model.DenseFlops;
                case "model.params" when step.Model is not null: return step.Model.Params;
                case "model.nonzeroParams" when step.Model is not null: return step.Model.NonzeroParams;
            }
        }
        return double.NaN;
    }

    /// <summary>For each ratio of the definition whose rows both ran: every column's numerator value over its denominator value.</summary>
    public static List<(string Label, double[] Values)> Ratios(BenchDefinition d, List<BenchRow> rows, List<double[]> table) =>
        Combine(d.Ratios, " / ", (a, b) => b == 0 ? double.NaN : a / b, rows, table);

    /// <summary>For each difference of the definition whose rows both ran: every column's A value minus its B value.</summary>
    public static List<(string Label, double[] Values)> Differences(BenchDefinition d, List<BenchRow> rows, List<double[]> table) =>
        Combine(d.Differences, " - ", (a, b) => a - b, rows, table);

    private static List<(string Label, double[] Values)> Combine(IReadOnlyList<(string, string)> pairs, string symbol, Func<double, double, double> combine,
        List<BenchRow> rows, List<double[]> table)
    {
        var result = new List<(string, double[])>();
        foreach (var (first, second) in pairs)
        {
            var n = rows.FindIndex(r => r.Label == first);
            var m = rows.FindIndex(r => r.Label == second);
            if (n < 0 || m < 0) continue;   // a row left out by --only
            result.Add(($"{first}{symbol}{second}", table[n].Zip(table[m], combine).ToArray()));
        }
        return result;
    }

    /// <summary>A table of row pairs (ratios or differences), one line per pair, every column, when there is any.</summary>
    private static void AppendRowPairs(StringBuilder md, BenchDefinition d, List<(string Label, double[] Values)> pairs, string title, Func<BenchColumn, string> format)
    {
        if (pairs.Count == 0) return;
        md.AppendLine().AppendLine(title).AppendLine();
        md.AppendLine("| rows | " + string.Join(" | ", d.Columns.Select(c => c.Header)) + " |");
        md.AppendLine("|-----|" + string.Concat(d.Columns.Select(_ => "---:|")));
        foreach (var (label, values) in pairs)
            md.AppendLine($"| {label} | " + string.Join(" | ", values.Select((v, j) => Cell(v, format(d.Columns[j])))) + " |");
    }

    private static string Cell(double value, string format) =>
        double.IsNaN(value) ? "-" : value.ToString(format, CultureInfo.InvariantCulture);

    private static double? OrNull(double v) => double.IsNaN(v) ? null : v;

    private static void WriteJson(BenchDefinition d, List<(BenchRow Row, RunReport? Report, string? Error)> outcomes, List<double[]> table, List<(double Low, double High)[]> bounds,
        List<SummaryRow> summary, List<PairedDifference> paired, Dictionary<string, string> provenance, string path, string arguments, double seconds, string runsRoot)
    {
        var rows = outcomes.Select((o, i) => new Dictionary<string, object?>
        {
            ["label"] = o.Row.Label,
            ["axes"] = o.Row.Axes,
            ["device"] = o.Report?.Device,
            ["accelerator"] = o.Report?.Accelerator,
            ["values"] = d.Columns.Select((c, j) => (c.Header, Value: table[i][j])).ToDictionary(p => p.Header, p => OrNull(p.Value)),
            ["intervals"] = d.Columns.Select((c, j) => (c, j)).Where(x => x.c.Interval).ToDictionary(x => x.c.Header, x => new[] { OrNull(bounds[i][x.j].Low), OrNull(bounds[i][x.j].High) }),
            ["checkpointSha256"] = o.Report?.Steps.FirstOrDefault(s => s.Use == "load")?.Provenance?.GetValueOrDefault("checkpointSha256"),
            ["error"] = o.Error,
            ["report"] = o.Report is null ? null : Path.Combine(runsRoot, o.Row.Folder, "report.json"),
        });
        var runRows = outcomes.Select(o => o.Row).ToList();
        // A pair of rows (a ratio or a difference) as its label and every column's value by header.
        IEnumerable<Dictionary<string, object?>> RowPairsJson(List<(string Label, double[] Values)> pairs) => pairs.Select(r => new Dictionary<string, object?>
        {
            ["rows"] = r.Label,
            ["values"] = d.Columns.Select((c, j) => (c.Header, Value: OrNull(r.Values[j]))).ToDictionary(x => x.Header, x => x.Value),
        });
        var document = new Dictionary<string, object?>
        {
            ["bench"] = d.Name,
            ["title"] = d.Title,
            ["date"] = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            ["cores"] = Environment.ProcessorCount,
            ["command"] = "dotnet artifacts/bench-runner/bench-runner.dll " + arguments,
            ["seconds"] = seconds,
            ["provenance"] = provenance,
            ["rows"] = rows,
            ["ratios"] = RowPairsJson(Ratios(d, runRows, table)),
            ["differences"] = RowPairsJson(Differences(d, runRows, table)),
            ["correlations"] = Correlate(d, table).Select(c => new Dictionary<string, object?> { ["x"] = c.X, ["y"] = c.Y, ["spearman"] = OrNull(c.Spearman), ["rows"] = c.Rows }),
            ["summary"] = summary.Select(s => new Dictionary<string, object?>
            {
                ["group"] = s.Group,
                ["over"] = d.SummarizeOver,
                ["n"] = s.Count,
                ["mean"] = d.Columns.Select((c, j) => (c.Header, j)).ToDictionary(x => x.Header, x => OrNull(s.Mean[x.j])),
                ["sd"] = d.Columns.Select((c, j) => (c.Header, j)).ToDictionary(x => x.Header, x => OrNull(s.StandardDeviation[x.j])),
                // The interval of the mean over the repeats, for the columns that show intervals (the rows' own are over frames or shapes).
                ["ci95"] = d.Columns.Select((c, j) => (c, j)).Where(x => x.c.Interval).ToDictionary(x => x.c.Header, x => new[] { OrNull(s.Low[x.j]), OrNull(s.High[x.j]) }),
            }),
            ["paired"] = paired.Select(p => new Dictionary<string, object?>
            {
                ["axis"] = p.Comparison.Axis,
                ["a"] = p.Comparison.A,
                ["b"] = p.Comparison.B,
                ["column"] = p.Comparison.Column,
                ["bResults"] = p.Comparison.BFrom?.Path,
                ["group"] = p.Group,
                ["over"] = d.SummarizeOver,
                ["differences"] = p.Pairs.ToDictionary(x => x.Repeat, x => (object?)x.Difference),
                ["mean"] = OrNull(p.Mean),
                ["sd"] = OrNull(p.StandardDeviation),
                ["ci95"] = new[] { OrNull(p.Low), OrNull(p.High) },
            }),
        };
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void WriteMarkdown(BenchDefinition d, List<(BenchRow Row, RunReport? Report, string? Error)> outcomes, List<double[]> table, List<(double Low, double High)[]> bounds,
        List<SummaryRow> summary, List<PairedDifference> paired, Dictionary<string, string> provenance, List<string> plots, string path, string arguments, double seconds, string runsRoot)
    {
        var md = new StringBuilder();
        md.AppendLine($"# {d.Title}").AppendLine();
        md.AppendLine($"- produced by: `dotnet build Platform.sln -c Release && dotnet artifacts/bench-runner/bench-runner.dll {arguments}`");
        // The runs may have been made elsewhere (--from-runs over reports brought back from a GPU machine): their cores come from their reports.
        var cores = outcomes.Where(o => o.Report is not null).Select(o => o.Report!.Cores).Distinct().Order().ToList();
        md.AppendLine($"- date: {DateTimeOffset.UtcNow:u}; runs on {(cores.Count == 0 ? "-" : string.Join(" and ", cores))} cores (their reports); " +
                      $"table written on {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; {outcomes.Count} runs in {seconds / 60:F1} min");
        md.AppendLine("- every figure below was read from the runs' own report.json files (under `" + runsRoot + "/`).");
        if (provenance.Count > 0)
            md.AppendLine("- made from: " + string.Join("; ", provenance.Where(kv => kv.Key != "data root").Select(kv => $"{kv.Key} {kv.Value}")));
        var devices = outcomes.Where(o => o.Report is not null).Select(o => o.Report!.Accelerator is { } gpu ? $"{o.Report.Device} ({gpu})" : o.Report!.Device).Distinct().ToList();
        if (devices.Count > 0) md.AppendLine($"- devices: {string.Join(", ", devices)} (each run's report.json names its own)");
        foreach (var note in d.Notes) md.AppendLine($"- {note}");
        md.AppendLine();
        md.AppendLine("| run | " + string.Join(" | ", d.Columns.Select(c => c.Header)) + " |");
        md.AppendLine("|-----|" + string.Concat(d.Columns.Select(_ => "---:|")));
        for (var i = 0; i < outcomes.Count; i++)
        {
            var cells = outcomes[i].Error is not null
                ? d.Columns.Select((_, j) => j == 0 ? "failed: " + outcomes[i].Error!.Replace("|", "/") : "")
                : d.Columns.Select((c, j) => Cell(table[i][j], c.Format) +
                    (c.Interval && !double.IsNaN(bounds[i][j].Low) ? $" [{Cell(bounds[i][j].Low, c.Format)}, {Cell(bounds[i][j].High, c.Format)}]" : ""));
            md.AppendLine($"| {outcomes[i].Row.Label} | " + string.Join(" | ", cells) + " |");
        }
        if (summary.Count > 0)
        {
            var intervals = d.Columns.Any(c => c.Interval) ? $"; in brackets, for the columns with intervals, the 95 % Student-t interval of the mean over `{d.SummarizeOver}`" : "";
            md.AppendLine().AppendLine($"Mean and sample standard deviation over `{d.SummarizeOver}` (n runs each){intervals}:").AppendLine();
            md.AppendLine("| group | n | " + string.Join(" | ", d.Columns.Select(c => c.Header)) + " |");
            md.AppendLine("|-----|---:|" + string.Concat(d.Columns.Select(_ => "---:|")));
            foreach (var s in summary)
                md.AppendLine($"| {s.Group} | {s.Count} | " + string.Join(" | ", d.Columns.Select((c, j) =>
                    Cell(s.Mean[j], c.Format) + (double.IsNaN(s.StandardDeviation[j]) ? "" : " ± " + Cell(s.StandardDeviation[j], c.Format)) +
                    (c.Interval && !double.IsNaN(s.Low[j]) ? $" [{Cell(s.Low[j], c.Format)}, {Cell(s.High[j], c.Format)}]" : ""))) + " |");
        }
        if (paired.Count > 0)
        {
            md.AppendLine().AppendLine($"Paired differences over `{d.SummarizeOver}` (each {d.SummarizeOver}'s A row minus its B row; mean ± sample SD, and the 95 % Student-t interval of the mean difference):").AppendLine();
            md.AppendLine($"| comparison (A - B) | group | column | n | per {d.SummarizeOver} | mean ± SD | 95 % interval | excludes 0 |");
            md.AppendLine("|---|---|---|---:|---|---:|---:|---|");
            foreach (var p in paired)
            {
                var format = d.Columns.First(c => c.Header == p.Comparison.Column).Format;
                md.AppendLine($"| {p.Comparison.Axis}: {p.Comparison.Label} | {p.Group} | {p.Comparison.Column} | {p.Pairs.Count} | " +
                    string.Join(", ", p.Pairs.Select(x => $"{x.Repeat}: {Cell(x.Difference, format)}")) + " | " +
                    Cell(p.Mean, format) + (double.IsNaN(p.StandardDeviation) ? "" : " ± " + Cell(p.StandardDeviation, format)) + " | " +
                    (double.IsNaN(p.Low) ? "-" : $"[{Cell(p.Low, format)}, {Cell(p.High, format)}]") + " | " + (double.IsNaN(p.Low) ? "-" : p.ExcludesZero ? "yes" : "no") + " |");
            }
            var sources = paired.Select(p => p.Comparison).Where(c => c.BFrom is not null).DistinctBy(c => (c.B, c.BFrom!.Path)).ToList();
            if (sources.Count > 0) md.AppendLine();
            foreach (var c in sources)
                md.AppendLine($"- {c.B} of {c.BFrom!.Bench}: its rows as `{c.BFrom.Path}` recorded them (that bench ran them; made from the same data).");
        }
        var runRows = outcomes.Select(o => o.Row).ToList();
        AppendRowPairs(md, d, Ratios(d, runRows, table), "Ratios of rows, every column (numerator over denominator; - where either is missing):", _ => "0.00");
        AppendRowPairs(md, d, Differences(d, runRows, table), "Differences of rows, every column (A minus B, in each column's format; - where either is missing):", c => c.Format);
        var correlations = Correlate(d, table);
        if (correlations.Count > 0)
        {
            md.AppendLine().AppendLine("Spearman rank correlation across the rows (1: same order, -1: reversed; too few rows: -):").AppendLine();
            md.AppendLine("| x | y | ρ | rows |").AppendLine("|---|---|---:|---:|");
            foreach (var c in correlations) md.AppendLine($"| {c.X} | {c.Y} | {Cell(c.Spearman, "0.00")} | {c.Rows} |");
        }
        foreach (var plot in plots) md.AppendLine().AppendLine($"![{Path.GetFileNameWithoutExtension(plot)}]({Path.GetFileName(plot)})");
        AtomicFile.WriteAllText(path, md.ToString());
    }

    private static string Plot(BenchDefinition d, BenchPlot p, List<BenchRow> rows, List<double[]> table, string directory)
    {
        int Column(string header) => d.Columns.ToList().FindIndex(c => c.Header == header) is var i and >= 0 ? i
            : throw new PlatformException($"plot {p.File}: no column '{header}'.");
        var x = Column(p.X);
        var y = Column(p.Y);
        var plot = new ScottPlot.Plot();
        var groups = rows.Select((r, i) => (Group: p.GroupBy is null ? "" : r.Axes.GetValueOrDefault(p.GroupBy) ?? r.Label, Index: i))
            .GroupBy(g => g.Group);
        foreach (var group in groups)
        {
            var points = group.Select(g => (X: table[g.Index][x], Y: table[g.Index][y])).Where(v => !double.IsNaN(v.X) && !double.IsNaN(v.Y)).OrderBy(v => v.X).ToArray();
            if (points.Length == 0) continue;
            var scatter = plot.Add.Scatter(points.Select(v => v.X).ToArray(), points.Select(v => v.Y).ToArray());
            scatter.LegendText = group.Key;
            scatter.MarkerSize = 7;
        }
        if (p.GroupBy is not null) plot.ShowLegend();
        plot.Title(p.Title.Length > 0 ? p.Title : $"{p.Y} vs {p.X}");
        plot.XLabel(p.X);
        plot.YLabel(p.Y);
        var file = Path.Combine(directory, p.File);
        AtomicFile.WriteAllBytes(file, plot.GetImageBytes(900, 560, ScottPlot.ImageFormat.Png));
        return file;
    }
}
