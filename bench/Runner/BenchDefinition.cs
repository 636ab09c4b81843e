using Microsoft.Extensions.Configuration;
using Platform.Host;

namespace Platform.Bench;

/// <summary>One run of a bench: a pipeline file plus overrides, and the grid values that produced it.</summary>
public sealed record BenchRow(string Label, string Pipeline, IReadOnlyDictionary<string, string> Overrides, IReadOnlyDictionary<string, string> Axes)
{
    /// <summary>The row's run folder name (under the bench's runs folder): the label lower-cased, every character but letters, digits, '.' and '-' made '-'.</summary>
    public string Folder => FolderName(Label);

    public static string FolderName(string label) =>
        new(label.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? char.ToLowerInvariant(c) : '-').ToArray());
}

/// <summary>A column of the results table and where its value comes from in a run's report.</summary>
/// <param name="Value">model.flops | model.params | model.nonzeroParams | model.denseFlops (after the last step);
/// metric:NAME (the last step that has it); step[I].metric:NAME; step[I].seconds; step[I].model.flops; run.seconds; seconds:USE (all steps of that component); axis:NAME.</param>
/// <param name="Interval">Show the value's bootstrap interval beside it: the metrics NAME/lo and NAME/hi of the same step (evaluate writes them).</param>
public sealed record BenchColumn(string Header, string Value, double Scale, string Format, bool Interval = false);

public sealed record BenchPlot(string File, string X, string Y, string? GroupBy, string Title);

/// <summary>
/// A bench file: <c>Bench:Name</c>, <c>Title</c>, <c>Pipeline</c> (default pipeline file), <c>Overrides</c>
/// (applied to every run), <c>Rows</c> (explicit runs: Label, Pipeline, Overrides, Axes), <c>Grid</c> (axes:
/// Name, Key, Values; their cartesian product is added as runs), <c>Columns</c>, <c>Plots</c>, <c>Notes</c>,
/// <c>Correlations</c> (X, Y: column headers), <c>Ratios</c> (Numerator, Denominator: row labels), <c>Differences</c> (A, B: row
/// labels), <c>SummarizeOver</c>,
/// <c>Paired</c> (Axis, A, B, Column: per-repeat differences of two arms, paired over <c>SummarizeOver</c>; BResults: a results
/// JSON of another bench that holds the B arm), <c>MixedCheckpoints</c>, <c>MixedData</c>,
/// <c>Slurm</c> (the resources of each task when the grid runs as a Slurm job array: <see cref="SlurmSettings"/>).
/// </summary>
public sealed record BenchDefinition(
    string Name,
    string Title,
    IReadOnlyList<BenchRow> Rows,
    IReadOnlyList<BenchColumn> Columns,
    IReadOnlyList<BenchPlot> Plots,
    IReadOnlyList<string> Notes,
    IReadOnlyList<(string Row, string Match)> CollectPlots)
{
    /// <summary>An axis whose rows are repeats (seeds): rows that differ only in it are also shown as mean and spread.</summary>
    public string? SummarizeOver { get; init; }

    /// <summary>Rows may load different checkpoints (a table of seeds); otherwise mixing them is refused.</summary>
    public bool MixedCheckpoints { get; init; }

    /// <summary>Rows may read different data (a table of data sets, e.g. synthetic and real scans); otherwise mixing them is refused.</summary>
    public bool MixedData { get; init; }

    /// <summary>Column pairs (by header) whose Spearman rank correlation across the rows is reported, e.g. a distortion against the AP it costs.</summary>
    public IReadOnlyList<(string X, string Y)> Correlations { get; init; } = [];

    /// <summary>Arms compared per repeat (seed): the mean difference and its paired 95 % interval (<see cref="PairedDifferences"/>).</summary>
    public IReadOnlyList<PairedComparison> Paired { get; init; } = [];

    /// <summary>Row pairs (by label) whose every column is also shown as a ratio, numerator over denominator (CPU over GPU, say).</summary>
    public IReadOnlyList<(string Numerator, string Denominator)> Ratios { get; init; } = [];

    /// <summary>Row pairs (by label) whose every column is also shown as a difference, A minus B (a pruned model against a control trained alike, say).</summary>
    public IReadOnlyList<(string A, string B)> Differences { get; init; } = [];

    /// <summary>The Bench:Slurm section as written (keys checked when a Slurm sweep is made: <see cref="SlurmSettings.From"/>).</summary>
    public IReadOnlyList<(string Key, string Value, string Source)> SlurmSection { get; init; } = [];

    /// <param name="root">The directory that paths in the bench file are relative to: the repository root, where bench-runner runs (the current directory when null).</param>
    public static BenchDefinition Read(IConfiguration configuration, string file, string? root = null)
    {
        var bench = configuration.GetSection("Bench");
        if (!bench.Exists()) throw new PlatformException($"{file}: no 'Bench' section.");
        var name = bench["Name"] ?? Path.GetFileNameWithoutExtension(file);
        // The name becomes file names (RESULTS/NAME.md, runs/bench/NAME/) and a Slurm job name.
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"))
            throw new PlatformException($"{file}: Bench:Name '{name}' must be a plain name (letters, digits, '.', '_', '-'; at most 100 characters).");
        var defaultPipeline = bench["Pipeline"];
        var common = Pairs(bench.GetSection("Overrides"));

        var rows = new List<BenchRow>();
        foreach (var row in bench.GetSection("Rows").GetChildren())
        {
            var pipeline = row["Pipeline"] ?? defaultPipeline ?? throw new PlatformException($"{row.Path}:Pipeline: missing.");
            rows.Add(new BenchRow(row["Label"] ?? $"row {row.Key}", pipeline, Merge(common, Pairs(row.GetSection("Overrides"))), row.GetSection("Axes").GetChildren().ToDictionary(c => c.Key, c => c.Value ?? "")));
        }

        // A grid axis: Name, and Values that are either plain values for its Key, or sections
        // { Label, Overrides: ["Key=value", ...] } when one setting needs several keys.
        var axes = bench.GetSection("Grid").GetChildren().Select(a =>
        {
            var axisName = a["Name"] ?? throw new PlatformException($"{a.Path}:Name: missing.");
            var key = a["Key"];
            if (key is not null && !key.StartsWith("Pipeline:", StringComparison.OrdinalIgnoreCase))
                throw new PlatformException($"{a.Path}:Key: '{key}' is not read by any pipeline: overrides are Pipeline:Key:Path.");
            return (Name: axisName, Values: a.GetSection("Values").GetChildren().Select(v =>
            {
                if (v.Value is not null)
                {
                    if (key is null) throw new PlatformException($"{a.Path}:Key: missing for the plain value '{v.Value}'.");
                    return (Label: v.Value, Overrides: (IReadOnlyDictionary<string, string>)new Dictionary<string, string> { [key] = v.Value });
                }
                // A field this reader does not know would be dropped without a word (a "Value" beside the axis's Key was).
                if (v.GetChildren().Select(c => c.Key).FirstOrDefault(k => k is not ("Label" or "Overrides")) is { } unknown)
                    throw new PlatformException($"{v.Path}:{unknown}: a grid value is a plain value for the axis's Key, or Label and Overrides; '{unknown}' is neither.");
                return (Label: v["Label"] ?? throw new PlatformException($"{v.Path}:Label: missing."), Overrides: (IReadOnlyDictionary<string, string>)Pairs(v.GetSection("Overrides")));
            }).ToArray());
        }).ToList();
        if (axes.Count > 0)
        {
            var pipeline = defaultPipeline ?? throw new PlatformException($"{file}: Bench:Pipeline is needed for the grid.");
            IEnumerable<List<(string Axis, string Label, IReadOnlyDictionary<string, string> Overrides)>> product = [[]];
            foreach (var axis in axes)
                product = product.SelectMany(prefix => axis.Values.Select(v => prefix.Append((axis.Name, v.Label, v.Overrides)).ToList()));
            foreach (var combination in product)
            {
                var label = string.Join(" ", combination.Select(c => c.Label));
                var overrides = combination.Aggregate((IReadOnlyDictionary<string, string>)common, (acc, c) => Merge(acc, c.Overrides));
                rows.Add(new BenchRow(label, pipeline, overrides, combination.ToDictionary(c => c.Axis, c => c.Label)));
            }
        }
        if (rows.Count == 0) throw new PlatformException($"{file}: the bench has no Rows and no Grid.");
        CheckRunFolders(file, rows);

        var columns = bench.GetSection("Columns").GetChildren().Select(c => new BenchColumn(
            c["Header"] ?? c["Value"] ?? "?",
            c["Value"] ?? throw new PlatformException($"{c.Path}:Value: missing."),
            double.TryParse(c["Scale"], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 1,
            c["Format"] ?? "0.##",
            bool.TryParse(c["Interval"], out var interval) && interval)).ToList();
        var plots = bench.GetSection("Plots").GetChildren().Select(p => new BenchPlot(
            p["File"] ?? throw new PlatformException($"{p.Path}:File: missing."),
            p["X"] ?? throw new PlatformException($"{p.Path}:X: missing."),
            p["Y"] ?? throw new PlatformException($"{p.Path}:Y: missing."),
            p["GroupBy"], p["Title"] ?? "")).ToList();
        var notes = bench.GetSection("Notes").GetChildren().Select(n => n.Value ?? "").ToList();
        // Plots a run drew itself (e.g. the per-layer sparsity a compressor chose), copied next to the table.
        var collect = bench.GetSection("CollectPlots").GetChildren().Select(c => (
            Row: c["Row"] ?? throw new PlatformException($"{c.Path}:Row: missing."),
            Match: c["Match"] ?? throw new PlatformException($"{c.Path}:Match: missing."))).ToList();
        var summarizeOver = bench["SummarizeOver"];
        if (summarizeOver is not null && !rows.Any(r => r.Axes.ContainsKey(summarizeOver)))
            throw new PlatformException($"{file}: Bench:SummarizeOver names the axis '{summarizeOver}', which no row has.");
        var correlations = bench.GetSection("Correlations").GetChildren().Select(c =>
        {
            string Header(string key) => c[key] is { } h && columns.Any(col => col.Header == h) ? h
                : throw new PlatformException($"{c.Path}:{key}: '{c[key]}' is not the header of a column ({string.Join(", ", columns.Select(col => col.Header))}).");
            return (Header("X"), Header("Y"));
        }).ToList();
        // A pair of rows named by label, each checked against the rows the bench has.
        List<(string, string)> RowPairs(string section, string first, string second) => bench.GetSection(section).GetChildren().Select(r =>
        {
            string Row(string key) => r[key] is { } label && rows.Any(row => row.Label == label) ? label
                : throw new PlatformException($"{r.Path}:{key}: '{r[key]}' is not the label of a row ({string.Join(", ", rows.Select(row => row.Label))}).");
            return (Row(first), Row(second));
        }).ToList();
        var ratios = RowPairs("Ratios", "Numerator", "Denominator");
        var differences = RowPairs("Differences", "A", "B");
        var paired = bench.GetSection("Paired").GetChildren().Select(p =>
        {
            if (summarizeOver is null) throw new PlatformException($"{p.Path}: a paired comparison pairs rows over the repeat axis: set Bench:SummarizeOver (e.g. seed).");
            var axis = p["Axis"] ?? throw new PlatformException($"{p.Path}:Axis: missing.");
            string Arm(string key) => p[key] is { } value && rows.Any(r => r.Axes.GetValueOrDefault(axis) == value) ? value
                : throw new PlatformException($"{p.Path}:{key}: no row has {axis} '{p[key]}' (values: {string.Join(", ", rows.Select(r => r.Axes.GetValueOrDefault(axis)).OfType<string>().Distinct())}).");
            var column = p["Column"] is { } h && columns.Any(c => c.Header == h) ? h
                : throw new PlatformException($"{p.Path}:Column: '{p["Column"]}' is not the header of a column ({string.Join(", ", columns.Select(c => c.Header))}).");
            if (p["BResults"] is not { } from) return new PairedComparison(axis, Arm("A"), Arm("B"), column);
            var b = p["B"] ?? throw new PlatformException($"{p.Path}:B: missing.");
            return new PairedComparison(axis, Arm("A"), b, column, ExternalArm.Read(from, Path.Combine(root ?? Directory.GetCurrentDirectory(), from), axis, b, column, $"{p.Path}:BResults"));
        }).ToList();
        return new BenchDefinition(name, bench["Title"] ?? name, rows, columns, plots, notes, collect)
        {
            SummarizeOver = summarizeOver,
            Paired = paired,
            MixedCheckpoints = bool.TryParse(bench["MixedCheckpoints"], out var mixed) && mixed,
            MixedData = bool.TryParse(bench["MixedData"], out var mixedData) && mixedData,
            Correlations = correlations,
            Ratios = ratios,
            Differences = differences,
            SlurmSection = bench.GetSection("Slurm").GetChildren().Select(c => (c.Key, c.Value ?? "", c.Path)).ToList(),
        };
    }

    /// <summary>
    /// Each row writes into its own folder named after its label, and Slurm tasks write theirs at the same time: a label
    /// whose folder name would leave the runs folder ("..") or is hidden, or two labels that give one folder, are refused
    /// by name. A pipeline path that reads as an option ("-x") is refused too: the Slurm path passes it on a command line.
    /// </summary>
    private static void CheckRunFolders(string file, List<BenchRow> rows)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var folder = row.Folder;
            if (folder.Length == 0 || folder.Length > 100 || folder.StartsWith('.'))
                throw new PlatformException($"{file}: row '{row.Label}': a label must give a folder name of 1 to 100 characters that does not start with '.' (it gives '{folder}').");
            if (!seen.TryAdd(folder, row.Label))
                throw new PlatformException($"{file}: rows '{seen[folder]}' and '{row.Label}' would write into the same folder '{folder}': give them labels that differ in a letter or digit.");
            if (row.Pipeline.StartsWith('-'))
                throw new PlatformException($"{file}: row '{row.Label}': the pipeline path '{row.Pipeline}' starts with '-' (write ./{row.Pipeline}).");
        }
    }

    /// <summary>Overrides are written as a list of "Key:Path=value" strings (a ':' in a config key would nest it).</summary>
    private static Dictionary<string, string> Pairs(IConfigurationSection section)
    {
        var pairs = new Dictionary<string, string>();
        foreach (var item in section.GetChildren())
        {
            var text = item.Value ?? "";
            var cut = text.IndexOf('=');
            if (cut <= 0) throw new PlatformException($"{item.Path}: '{text}' is not of the form Key:Path=value.");
            // The host reads only Pipeline:... overrides; anything else would reach a Slurm task's command line as an option.
            if (!text.StartsWith("Pipeline:", StringComparison.OrdinalIgnoreCase))
                throw new PlatformException($"{item.Path}: '{text}' sets '{text[..cut]}', which no pipeline reads: overrides are Pipeline:Key:Path=value.");
            pairs[text[..cut]] = text[(cut + 1)..];
        }
        return pairs;
    }

    private static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
    {
        var merged = new Dictionary<string, string>(a);
        foreach (var (k, v) in b) merged[k] = v;
        return merged;
    }
}
