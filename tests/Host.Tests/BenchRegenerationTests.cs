using System.Text.Json;
using Platform.Bench;
using Platform.TestKit;
using static Platform.Bench.RegenerationCheck;

namespace Platform.Host.Tests;

/// <summary>bench-runner --compare: a committed table against a regenerated one (issue 11's second-clone check).</summary>
public class BenchRegenerationTests
{
    /// <summary>A results document as bench-runner writes it: rows with values and, for interval columns, [low, high].</summary>
    private static JsonElement Results(params (string Label, double? MAp, double Low, double High, double Seconds)[] rows) =>
        JsonDocument.Parse(JsonSerializer.Serialize(new
        {
            bench = "b",
            rows = rows.Select(r => new
            {
                label = r.Label,
                values = new Dictionary<string, double?> { ["mAP 3D"] = r.MAp, ["prune s"] = r.Seconds },
                intervals = new Dictionary<string, double[]> { ["mAP 3D"] = [r.Low, r.High] },
            }),
        })).RootElement;

    [Test]
    public void A_table_regenerated_to_the_same_numbers_is_identical_everywhere()
    {
        var committed = Results(("hessian-dp 2", 39.7059, 37.71, 42.64, 57.6), ("lamp 2", 37.96, 35.86, 40.6, 45.9));
        var findings = Compare(Committed(committed, "c.json"), committed);
        Assert.That(findings, Has.Count.EqualTo(4));
        Assert.That(findings.Select(f => f.Verdict), Is.All.EqualTo(Verdict.Identical));
        Assert.That(Print(findings, "c.json", new StringWriter()), Is.EqualTo(0));
    }

    [Test]
    public void A_value_inside_its_committed_interval_passes_one_outside_fails_and_seconds_only_differ()
    {
        var committed = Results(("hessian-dp 2", 39.70, 37.71, 42.64, 57.6), ("lamp 2", 37.96, 35.86, 40.60, 45.9));
        var regenerated = Results(("hessian-dp 2", 41.00, 39.0, 43.9, 60.1), ("lamp 2", 35.10, 33.0, 37.9, 45.9));
        var findings = Compare(Committed(committed, "c.json"), regenerated);
        Assert.That(findings.Single(f => f.Row == "hessian-dp 2" && f.Column == "mAP 3D").Verdict, Is.EqualTo(Verdict.WithinInterval));
        Assert.That(findings.Single(f => f.Row == "lamp 2" && f.Column == "mAP 3D").Verdict, Is.EqualTo(Verdict.OutsideInterval), "35.10 is below the committed 35.86");
        Assert.That(findings.Single(f => f.Row == "hessian-dp 2" && f.Column == "prune s").Verdict, Is.EqualTo(Verdict.Differs), "no interval: reported, not judged");
        Assert.That(findings.Single(f => f.Row == "lamp 2" && f.Column == "prune s").Verdict, Is.EqualTo(Verdict.Identical));

        var output = new StringWriter();
        Assert.That(Print(findings, "c.json", output), Is.EqualTo(1));
        Assert.That(output.ToString(), Does.Contain("OutsideInterval: 'lamp 2' / 'mAP 3D': committed 37.96, now 35.1 (committed interval [35.86, 40.6])"));
        Assert.That(output.ToString(), Does.Contain("1 values with a committed interval lie outside it or are missing"));
    }

    [Test]
    public void Rows_not_regenerated_are_left_out_and_a_value_that_vanished_is_missing_and_fails()
    {
        var committed = Results(("hessian-dp 2", 39.70, 37.71, 42.64, 57.6), ("lamp 2", 37.96, 35.86, 40.60, 45.9));
        var regenerated = Results(("hessian-dp 2", null, 0, 0, 57.6), ("new row", 1, 0, 2, 1));
        var findings = Compare(Committed(committed, "c.json"), regenerated);
        Assert.That(findings.Select(f => f.Row).Distinct(), Is.EqualTo(new[] { "hessian-dp 2" }), "lamp 2 was not run (--only); 'new row' has nothing to compare with");
        Assert.That(findings.Single(f => f.Column == "mAP 3D").Verdict, Is.EqualTo(Verdict.Missing));
        Assert.That(Print(findings, "c.json", new StringWriter()), Is.EqualTo(1), "a value with a committed interval that is gone fails the check");
    }

    [Test]
    public void A_committed_column_the_new_table_lacks_is_missing_and_a_comparison_of_nothing_fails()
    {
        var committed = Committed(Results(("a", 1, 0, 2, 1)), "c.json");
        var withoutColumns = JsonDocument.Parse("""{ "rows": [ { "label": "a", "values": {} } ] }""").RootElement;
        var findings = Compare(committed, withoutColumns);
        Assert.That(findings.Select(f => (f.Column, f.Verdict)), Is.EquivalentTo(new[] { ("mAP 3D", Verdict.Missing), ("prune s", Verdict.Missing) }));

        var output = new StringWriter();
        Assert.That(Print(Compare(committed, Results(("b", 1, 0, 2, 1))), "c.json", output), Is.EqualTo(1));
        Assert.That(output.ToString(), Does.Contain("nothing was compared"));
    }

    [Test]
    public void A_file_that_is_not_a_results_table_is_refused_by_name()
    {
        var notResults = JsonDocument.Parse("""{ "Pipeline": { "Name": "x" } }""").RootElement;
        var e = Assert.Throws<PlatformException>(() => Committed(notResults, "bench/results/x.json"))!;
        Assert.That(e.Message, Does.Contain("--compare bench/results/x.json").And.Contain("no 'rows' array"));
        var twice = Results(("a", 1, 0, 2, 1), ("a", 2, 0, 3, 1));
        Assert.That(Assert.Throws<PlatformException>(() => Committed(twice, "d.json"))!.Message, Does.Contain("two rows are labelled 'a'"));
    }

    [TestCase("{ not json", "cannot be read as JSON")]
    [TestCase("{}", "no 'rows' array")]
    public void The_command_line_refuses_compare_with_slurm_and_a_bad_compare_file_before_any_row_runs(string content, string expected)
    {
        var folder = TestPaths.NewTempDirectory("bench-compare");
        var bench = Path.Combine(folder, "bench.yaml");
        File.WriteAllText(bench, "Bench:\n  Name: b\n  Pipeline: p.json\n  Rows:\n    - Label: x\n  Columns:\n    - Value: run.seconds\n");
        Assert.That(Program.Main([bench, "--slurm", "--compare", "x.json"]), Is.EqualTo(2));
        var broken = Path.Combine(folder, "broken.json");
        File.WriteAllText(broken, content);
        var (error, output) = (new StringWriter(), new StringWriter());
        var (previousError, previousOutput) = (System.Console.Error, System.Console.Out);
        System.Console.SetError(error);
        System.Console.SetOut(output);
        try
        {
            Assert.That(Program.Main([bench, "--compare", broken, "--results", Path.Combine(folder, "results"), "--runs", Path.Combine(folder, "runs")]), Is.EqualTo(2));
            Assert.That(Program.Main([bench, "--compare", Path.Combine(folder, "absent.json")]), Is.EqualTo(2));
        }
        finally
        {
            System.Console.SetError(previousError);
            System.Console.SetOut(previousOutput);
        }
        Assert.That(error.ToString(), Does.Contain($"--compare {broken}").And.Contain(expected));
        Assert.That(error.ToString(), Does.Contain("absent.json: cannot be read"));
        Assert.That(output.ToString(), Does.Not.Contain("=== b: x"), "the file is refused before the first row");
    }

    [Test]
    public void Help_prints_the_usage_and_succeeds_while_no_arguments_is_an_error()
    {
        var (error, output) = (new StringWriter(), new StringWriter());
        var (previousError, previousOutput) = (System.Console.Error, System.Console.Out);
        System.Console.SetError(error);
        System.Console.SetOut(output);
        int help, none;
        try
        {
            help = Program.Main(["--help"]);
            none = Program.Main([]);
        }
        finally
        {
            System.Console.SetError(previousError);
            System.Console.SetOut(previousOutput);
        }
        Assert.That(help, Is.Zero);
        Assert.That(output.ToString(), Does.StartWith("usage: bench-runner").And.Contain("a substring"));
        Assert.That(none, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.StartWith("usage: bench-runner"));
    }
}
