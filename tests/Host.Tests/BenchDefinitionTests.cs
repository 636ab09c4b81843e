using Microsoft.Extensions.Configuration;
using Platform.Bench;

namespace Platform.Host.Tests;

public class BenchDefinitionTests
{
    private static BenchDefinition Read(string yaml)
    {
        var file = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("bench"), "bench.yaml");
        File.WriteAllText(file, yaml);
        return BenchDefinition.Read(new ConfigurationBuilder().AddYamlFile(file).Build(), file);
    }

    /// <summary>Every committed bench file: bench-runner can read it, and every pipeline its rows name is in the repository.</summary>
    private static IEnumerable<string> CommittedBenchFiles() =>
        Directory.GetFiles(Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "bench"), "*.yaml").Order(StringComparer.Ordinal).Select(Path.GetFileName)!;

    [TestCaseSource(nameof(CommittedBenchFiles))]
    public void A_committed_bench_file_parses_and_names_pipeline_files_that_exist(string file)
    {
        var path = Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "bench", file);
        var bench = BenchDefinition.Read(new ConfigurationBuilder().AddYamlFile(path).Build(), path, Platform.TestKit.TestPaths.RepoRoot);

        Assert.That(bench.Rows, Is.Not.Empty);
        Assert.That(bench.Columns, Is.Not.Empty, "a bench without columns writes an empty table");
        foreach (var row in bench.Rows)
            Assert.That(File.Exists(Path.Combine(Platform.TestKit.TestPaths.RepoRoot, row.Pipeline)), $"row '{row.Label}': pipeline {row.Pipeline} is missing (paths are relative to the repository root, where bench-runner runs)");
    }

    [Test]
    public void The_benchmarks_are_bench_files_only()
    {
        // One way to measure (issue 16): no console program that links plugins and writes its own table.
        var programs = Directory.GetFiles(Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "bench"), "*.csproj", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Platform.TestKit.TestPaths.RepoRoot, f).Replace('\\', '/'));
        Assert.That(programs, Is.EqualTo(new[] { "bench/Runner/Runner.csproj" }));
    }

    [Test]
    public void Every_committed_results_table_is_listed_in_the_readme_with_the_bench_file_that_writes_it()
    {
        var root = Platform.TestKit.TestPaths.RepoRoot;
        // The README's benchmark table: | [bench/results/NAME.md](...) | what | ... `dotnet artifacts/bench-runner/bench-runner.dll bench/FILE.yaml` ... |
        var rows = File.ReadLines(Path.Combine(root, "README.md"))
            .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"^\| \[bench/results/(?<table>[^\]]+)\.md\].*`dotnet artifacts/bench-runner/bench-runner\.dll (?<bench>bench/[^ `]+\.yaml)"))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups["table"].Value, m => m.Groups["bench"].Value);
        var tables = Directory.GetFiles(Path.Combine(root, "bench", "results"), "*.md").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).ToArray();

        Assert.That(rows.Keys.Order(StringComparer.Ordinal), Is.EqualTo(tables), "each results table has a README row whose command is bench-runner's");
        foreach (var (table, benchFile) in rows)
        {
            var path = Path.Combine(root, benchFile);
            Assert.That(File.Exists(path), $"{table}: {benchFile} is missing");
            var bench = BenchDefinition.Read(new ConfigurationBuilder().AddYamlFile(path).Build(), path, Platform.TestKit.TestPaths.RepoRoot);
            Assert.That(bench.Name, Is.EqualTo(table), $"{benchFile} writes bench/results/{bench.Name}.md, not {table}.md");
        }
    }

    [Test]
    public void Explicit_rows_come_first_then_the_cartesian_product_of_the_grid_with_every_override_merged()
    {
        var bench = Read("""
            Bench:
              Name: b
              Pipeline: p.json
              Overrides: ["Pipeline:Seed=3"]
              Rows:
                - Label: dense
                  Pipeline: dense.json
                  Axes: { method: dense }
              Grid:
                - Name: method
                  Key: Pipeline:Steps:1:Use
                  Values: [a, b]
                - Name: points
                  Values:
                    - Label: half
                      Overrides: ["Pipeline:Steps:0:Use=random-drop", "Pipeline:Steps:0:Options:KeepRatio=0.5"]
                    - Label: all
                      Overrides: ["Pipeline:Steps:0:Options:KeepRatio=1"]
              Columns:
                - Header: mAP
                  Value: metric:mAP
            """);

        Assert.That(bench.Rows.Select(r => r.Label), Is.EqualTo(new[] { "dense", "a half", "a all", "b half", "b all" }));
        Assert.That(bench.Rows[0].Pipeline, Is.EqualTo("dense.json"));
        Assert.That(bench.Rows[0].Overrides, Is.EqualTo(new Dictionary<string, string> { ["Pipeline:Seed"] = "3" }));
        var bHalf = bench.Rows[3];
        Assert.That(bHalf.Pipeline, Is.EqualTo("p.json"));
        Assert.That(bHalf.Overrides, Is.EqualTo(new Dictionary<string, string>
        {
            ["Pipeline:Seed"] = "3",
            ["Pipeline:Steps:1:Use"] = "b",
            ["Pipeline:Steps:0:Use"] = "random-drop",
            ["Pipeline:Steps:0:Options:KeepRatio"] = "0.5",
        }));
        Assert.That(bHalf.Axes, Is.EqualTo(new Dictionary<string, string> { ["method"] = "b", ["points"] = "half" }));
        Assert.That(bench.Columns.Single().Value, Is.EqualTo("metric:mAP"));
    }

    [Test]
    public void An_override_that_is_not_key_equals_value_is_refused_with_its_path()
    {
        var error = Assert.Throws<PlatformException>(() => Read("""
            Bench:
              Pipeline: p.json
              Overrides: ["Pipeline:Seed"]
              Rows:
                - Label: x
            """));
        Assert.That(error!.Message, Does.Contain("Bench:Overrides:0").And.Contain("Pipeline:Seed"));
    }

    [Test]
    public void A_grid_value_with_a_field_other_than_label_and_overrides_is_refused_with_its_path()
    {
        var error = Assert.Throws<PlatformException>(() => Read("""
            Bench:
              Pipeline: p.json
              Grid:
                - Name: curves
                  Key: Pipeline:Steps:1:Options:CurveStages
                  Values:
                    - Label: whole
                      Value: "false"
            """));
        Assert.That(error!.Message, Does.Contain("Bench:Grid:0:Values:0:Value").And.Contain("Label and Overrides"));
    }

    [Test]
    public void Correlations_rank_two_columns_over_the_rows_that_have_both_and_an_unknown_header_is_named()
    {
        const string head = """
            Bench:
              Name: b
              Pipeline: p.json
              Grid:
                - Name: r
                  Key: Pipeline:Seed
                  Values: ["1", "2", "3", "4"]
              Columns:
                - Header: distortion
                  Value: metric:d
                - Header: change
                  Value: metric:c
            """;
        var bench = Read(head + "\n  Correlations:\n    - { X: distortion, Y: change }\n");
        // Distortion 0.1 < 0.2 < 0.4 (row 3 failed: NaN) against changes -1 > -3 > -2: ranks (1,2,3) vs (3,1,2), ρ = -0.5.
        var table = new List<double[]> { new[] { 0.1, -1.0 }, new[] { 0.4, -2.0 }, new[] { double.NaN, -9.0 }, new[] { 0.2, -3.0 } };
        var correlation = Platform.Bench.Program.Correlate(bench, table).Single();
        Assert.That(correlation.Rows, Is.EqualTo(3));
        Assert.That(correlation.Spearman, Is.EqualTo(-0.5).Within(1e-12));

        var error = Assert.Throws<PlatformException>(() => Read(head + "\n  Correlations:\n    - { X: distortion, Y: mAP }\n"));
        Assert.That(error!.Message, Does.Contain("Bench:Correlations:0:Y").And.Contain("'mAP'"));
    }

    [Test]
    public void Ratios_divide_every_column_of_one_row_by_another_and_an_unknown_row_is_named()
    {
        const string head = """
            Bench:
              Name: b
              Rows:
                - { Label: on cpu, Pipeline: p.json }
                - { Label: on cuda, Pipeline: p.json }
              Columns:
                - Header: seconds
                  Value: run.seconds
                - Header: accuracy
                  Value: metric:accuracy
            """;
        var bench = Read(head + "\n  Ratios:\n    - { Numerator: on cpu, Denominator: on cuda }\n");
        var table = new List<double[]> { new[] { 30.0, 0.9 }, new[] { 10.0, double.NaN } };
        var (label, values) = Platform.Bench.Program.Ratios(bench, bench.Rows.ToList(), table).Single();
        Assert.That(label, Is.EqualTo("on cpu / on cuda"));
        Assert.That(values[0], Is.EqualTo(3.0));
        Assert.That(double.IsNaN(values[1]), Is.True, "a missing value gives no ratio");

        var error = Assert.Throws<PlatformException>(() => Read(head + "\n  Ratios:\n    - { Numerator: on gpu, Denominator: on cuda }\n"));
        Assert.That(error!.Message, Does.Contain("Bench:Ratios:0:Numerator").And.Contain("'on gpu'"));
    }

    [Test]
    public void Differences_subtract_every_column_of_one_row_from_another_and_an_unknown_row_is_named()
    {
        const string head = """
            Bench:
              Name: b
              Rows:
                - { Label: pruned + 3 epochs, Pipeline: p.json }
                - { Label: dense + 3 epochs, Pipeline: p.json }
              Columns:
                - Header: mAP 3D
                  Value: metric:mAP
                - Header: params
                  Value: model.params
            """;
        var bench = Read(head + "\n  Differences:\n    - { A: pruned + 3 epochs, B: dense + 3 epochs }\n");
        var table = new List<double[]> { new[] { 43.99, double.NaN }, new[] { 45.18, 422667.0 } };
        var (label, values) = Platform.Bench.Program.Differences(bench, bench.Rows.ToList(), table).Single();
        Assert.That(label, Is.EqualTo("pruned + 3 epochs - dense + 3 epochs"));
        Assert.That(values[0], Is.EqualTo(-1.19).Within(1e-12));
        Assert.That(double.IsNaN(values[1]), Is.True, "a missing value gives no difference");

        var error = Assert.Throws<PlatformException>(() => Read(head + "\n  Differences:\n    - { A: pruned + 3 epochs, B: control }\n"));
        Assert.That(error!.Message, Does.Contain("Bench:Differences:0:B").And.Contain("'control'"));
    }

    /// <summary>A bench of method arms (label, the component its step uses) over seeds 0..seeds-1, with an accuracy column.</summary>
    private static string ArmsBySeed(IEnumerable<(string Label, string Use)> arms, int seeds) =>
        "Bench:\n  Name: b\n  Pipeline: p.json\n  SummarizeOver: seed\n  Grid:\n    - Name: method\n      Values:\n" +
        string.Concat(arms.Select(a => $"        - {{ Label: {a.Label}, Overrides: [\"Pipeline:Steps:0:Use={a.Use}\"] }}\n")) +
        "    - Name: seed\n      Key: Pipeline:Seed\n      Values: [" + string.Join(", ", Enumerable.Range(0, seeds).Select(i => $"\"{i}\"")) + "]\n" +
        "  Columns:\n    - Header: accuracy\n      Value: metric:accuracy\n";

    [Test]
    public void Paired_differences_pair_two_arms_by_seed_and_give_the_student_t_interval_of_the_mean()
    {
        var head = ArmsBySeed([("t3dnet", "t3dnet"), ("kd", "distill")], seeds: 4);
        var bench = Read(head + "\n  Paired:\n    - { Axis: method, A: t3dnet, B: kd, Column: accuracy }\n");
        var rows = bench.Rows.ToList();
        Assert.That(rows.Select(r => r.Label), Is.EqualTo(new[] { "t3dnet 0", "t3dnet 1", "t3dnet 2", "t3dnet 3", "kd 0", "kd 1", "kd 2", "kd 3" }));
        // Per seed t3dnet - kd: 1, 2, 0.5, and seed 3 is left out because its kd row failed.
        List<double[]> table = [[90.0], [92.0], [91.0], [88.0], [89.0], [90.0], [90.5], [double.NaN]];
        var paired = PairedDifferences.Compute(bench.Paired, "seed", rows, ["accuracy"], table).Single();
        Assert.That(paired.Pairs.Select(p => p.Repeat), Is.EqualTo(new[] { "0", "1", "2" }));
        Assert.That(paired.Pairs.Select(p => p.Difference), Is.EqualTo(new[] { 1.0, 2.0, 0.5 }));
        Assert.That(paired.Mean, Is.EqualTo(3.5 / 3).Within(1e-12));
        Assert.That(paired.StandardDeviation, Is.EqualTo(Math.Sqrt(7.0 / 12)).Within(1e-12));
        // t(0.975, 2 degrees of freedom) = 4.302653 (statistical tables).
        var half = 4.302653 * Math.Sqrt(7.0 / 12) / Math.Sqrt(3);
        Assert.That(paired.Low, Is.EqualTo(3.5 / 3 - half).Within(1e-5));
        Assert.That(paired.High, Is.EqualTo(3.5 / 3 + half).Within(1e-5));
        Assert.That(paired.ExcludesZero, Is.False, "the interval [-0.73, 3.06] holds 0");

        // With five seeds all one point apart the interval is [1, 1] and excludes 0.
        var (mean, _, low, high) = PairedDifferences.MeanInterval([1.0, 1, 1, 1, 1]);
        Assert.That((mean, low, high), Is.EqualTo((1.0, 1.0, 1.0)));
        // t(0.975, 4) = 2.776445: values 0, 1, 2, 3, 4 have mean 2 and SD sqrt(2.5).
        var (_, sd, low4, _) = PairedDifferences.MeanInterval([0.0, 1, 2, 3, 4]);
        Assert.That(low4, Is.EqualTo(2 - 2.776445 * sd / Math.Sqrt(5)).Within(1e-5));

        var noRepeat = Assert.Throws<PlatformException>(() => Read(head.Replace("  SummarizeOver: seed\n", "") + "\n  Paired:\n    - { Axis: method, A: t3dnet, B: kd, Column: accuracy }\n"));
        Assert.That(noRepeat!.Message, Does.Contain("Bench:Paired:0").And.Contain("SummarizeOver"));
        var unknownArm = Assert.Throws<PlatformException>(() => Read(head + "\n  Paired:\n    - { Axis: method, A: t3dnet, B: scratch, Column: accuracy }\n"));
        Assert.That(unknownArm!.Message, Does.Contain("Bench:Paired:0:B").And.Contain("'scratch'").And.Contain("t3dnet, kd"));
        var unknownColumn = Assert.Throws<PlatformException>(() => Read(head + "\n  Paired:\n    - { Axis: method, A: t3dnet, B: kd, Column: acc }\n"));
        Assert.That(unknownColumn!.Message, Does.Contain("Bench:Paired:0:Column").And.Contain("'acc'"));
    }

    [Test]
    public void A_paired_b_arm_can_come_from_another_benchs_results_file_made_from_the_same_data()
    {
        var folder = Platform.TestKit.TestPaths.NewTempDirectory("bench-external");
        var results = Path.Combine(folder, "other.json");
        // Another bench's results: its kd rows for seeds 0-2 (seed 2 failed: null) and a row of another arm.
        File.WriteAllText(results, """
            { "bench": "other", "provenance": { "data frames/test": "500" },
              "rows": [
                { "label": "kd 0", "axes": { "method": "kd", "seed": "0" }, "values": { "accuracy": 89.0 } },
                { "label": "kd 1", "axes": { "method": "kd", "seed": "1" }, "values": { "accuracy": 90.0 } },
                { "label": "kd 2", "axes": { "method": "kd", "seed": "2" }, "values": { "accuracy": null } },
                { "label": "scratch 0", "axes": { "method": "scratch", "seed": "0" }, "values": { "accuracy": 80.0 } } ] }
            """);
        string Bench(string paired) => ArmsBySeed([("t3dnet", "t3dnet")], seeds: 3) + $"  Paired:\n    - {paired}\n";
        var bench = Read(Bench($"{{ Axis: method, A: t3dnet, B: kd, Column: accuracy, BResults: {results} }}"));
        var comparison = bench.Paired.Single();
        Assert.That(comparison.Label, Is.EqualTo("t3dnet - kd of other"));
        // t3dnet 90, 92.5, 91 against kd 89, 90 and a failed row: seeds 0 and 1 pair, seed 2 does not.
        var paired = PairedDifferences.Compute(bench.Paired, "seed", bench.Rows, ["accuracy"], [[90.0], [92.5], [91.0]]).Single();
        Assert.That(paired.Pairs, Is.EqualTo(new[] { ("0", 1.0), ("1", 2.5) }));
        Assert.That(paired.Mean, Is.EqualTo(1.75));

        // Same data passes; another test split is refused, naming both.
        Assert.DoesNotThrow(() => Program.CheckSameData(bench, new Dictionary<string, string> { ["data frames/test"] = "500", ["checkpoint"] = "x" }));
        var otherData = Assert.Throws<PlatformException>(() => Program.CheckSameData(bench, new Dictionary<string, string> { ["data frames/test"] = "2000" }))!;
        Assert.That(otherData.Message, Does.Contain("data frames/test 2000").And.Contain(results).And.Contain("500"));

        var missing = Assert.Throws<PlatformException>(() => Read(Bench($"{{ Axis: method, A: t3dnet, B: kd, Column: accuracy, BResults: {Path.Combine(folder, "none.json")} }}")));
        Assert.That(missing!.Message, Does.Contain("Bench:Paired:0:BResults").And.Contain("does not exist"));
        var noArm = Assert.Throws<PlatformException>(() => Read(Bench($"{{ Axis: method, A: t3dnet, B: augment, Column: accuracy, BResults: {results} }}")));
        Assert.That(noArm!.Message, Does.Contain("method 'augment'").And.Contain("kd, scratch"));
        File.WriteAllText(Path.Combine(folder, "bad.json"), "{ \"rows\": [");
        var notJson = Assert.Throws<PlatformException>(() => Read(Bench($"{{ Axis: method, A: t3dnet, B: kd, Column: accuracy, BResults: {Path.Combine(folder, "bad.json")} }}")));
        Assert.That(notJson!.Message, Does.Contain("is not JSON"));
    }
}
