using Microsoft.Extensions.Configuration;
using Platform.Bench;
using Platform.Host;
using Platform.Host.Pipeline;
using Platform.Host.Reporting;

namespace Platform.Host.Tests;

public class BenchProvenanceTests
{
    private static (BenchRow, RunReport?, string?) Row(string label, string? sha, string frames = "500")
    {
        var report = new RunReport { Pipeline = label, Device = "cpu", PipelineFile = "p.json", Dataset = new() { ["root"] = "/d", ["frames/val"] = frames } };
        if (sha is not null)
            report.Steps.Add(new StepReport { Index = 0, Use = "load", Kind = "step", Provenance = new() { ["checkpoint"] = "models/m.ckpt", ["checkpointSha256"] = sha } });
        return (new BenchRow(label, "p.json", new Dictionary<string, string>(), new Dictionary<string, string>()), report, null);
    }

    [Test]
    public void Rows_from_one_checkpoint_and_one_dataset_record_both()
    {
        var sha = new string('a', 64);
        var provenance = Program.Provenance([Row("dense", sha), Row("lamp 2", sha), Row("failed", null)]);
        Assert.That(provenance["checkpoint SHA-256"], Is.EqualTo(sha));
        Assert.That(provenance["checkpoint"], Is.EqualTo("models/m.ckpt"));
        Assert.That(provenance["data frames/val"], Is.EqualTo("500"));
    }

    [Test]
    public void Rows_from_different_checkpoints_are_refused_naming_the_rows()
    {
        var e = Assert.Throws<PlatformException>(() => Program.Provenance([Row("dense", new string('a', 64)), Row("lamp 2", new string('b', 64))]))!;
        Assert.That(e.Message, Does.Contain("different checkpoints").And.Contain("rows dense").And.Contain("rows lamp 2").And.Contain("bbbbbbbbbbbb"));
    }

    [Test]
    public void Rows_on_different_data_are_refused()
    {
        var e = Assert.Throws<PlatformException>(() => Program.Provenance([Row("dense", null, "100"), Row("lamp 2", null, "500")]))!;
        Assert.That(e.Message, Does.Contain("different data").And.Contain("frames/val=100"));
    }

    [Test]
    public void A_table_of_seeds_may_mix_checkpoints_when_the_bench_says_so_and_then_names_none()
    {
        var provenance = Program.Provenance([Row("seed 0", new string('a', 64)), Row("seed 1", new string('b', 64))], mixedCheckpoints: true);
        Assert.That(provenance.ContainsKey("checkpoint SHA-256"), Is.False);
        Assert.That(provenance["data frames/val"], Is.EqualTo("500"));
    }

    [Test]
    public void A_table_of_data_sets_may_mix_data_when_the_bench_says_so_and_then_names_none()
    {
        var provenance = Program.Provenance([Row("synthetic", null, "500"), Row("real", null, "3")], mixedData: true);
        Assert.That(provenance.Keys.Where(k => k.StartsWith("data ", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void Rows_that_differ_only_in_the_summarized_axis_get_their_mean_and_sample_standard_deviation()
    {
        var definition = new BenchDefinition("b", "t", [], [new BenchColumn("AP", "metric:ap", 1, "0.00"), new BenchColumn("s", "run.seconds", 1, "0")], [], [], [])
        {
            SummarizeOver = "seed",
        };
        BenchRow R(string method, string seed) => new($"{method} {seed}", "p.json", new Dictionary<string, string>(), new Dictionary<string, string> { ["method"] = method, ["seed"] = seed });
        var rows = new[] { R("lamp", "0"), R("lamp", "1"), R("lamp", "2"), R("dp", "0"), R("dp", "1") };
        var table = new[] { new[] { 1.0, 5 }, [2.0, 5], [3.0, 5], [10.0, double.NaN], [14.0, 7] };
        var summary = Program.Summarize(definition, rows, table);
        Assert.That(summary.Select(s => s.Group), Is.EqualTo(new[] { "lamp", "dp" }));
        Assert.That(summary[0].Count, Is.EqualTo(3));
        Assert.That(summary[0].Mean, Is.EqualTo(new[] { 2.0, 5.0 }));
        Assert.That(summary[0].StandardDeviation, Is.EqualTo(new[] { 1.0, 0.0 }));
        Assert.That(summary[1].Mean[0], Is.EqualTo(12.0));
        Assert.That(summary[1].StandardDeviation[0], Is.EqualTo(Math.Sqrt(8)).Within(1e-12));
        Assert.That(summary[1].Mean[1], Is.EqualTo(7.0), "a failed value is left out, not counted as zero");
        Assert.That(double.IsNaN(summary[1].StandardDeviation[1]), "one value has no spread");
        // The mean's 95 % interval: lamp's AP 1, 2, 3 has SD 1, and t(0.975, 2) = 4.302653 (statistical tables).
        Assert.That(summary[0].Low[0], Is.EqualTo(2 - 4.302653 / Math.Sqrt(3)).Within(1e-5));
        Assert.That(summary[0].High[0], Is.EqualTo(2 + 4.302653 / Math.Sqrt(3)).Within(1e-5));
        Assert.That(double.IsNaN(summary[1].Low[1]), "one value has no interval");
    }

    [Test]
    public void A_summary_counts_only_the_runs_that_produced_figures()
    {
        var definition = new BenchDefinition("b", "t", [], [new BenchColumn("AP", "metric:ap", 1, "0.00")], [], [], []) { SummarizeOver = "seed" };
        BenchRow R(string seed) => new($"dp {seed}", "p.json", new Dictionary<string, string>(), new Dictionary<string, string> { ["method"] = "dp", ["seed"] = seed });
        // Seeds 3 and 4 were never run: every figure NaN.
        var table = new[] { new[] { 1.0 }, [3.0], [2.0], [double.NaN], [double.NaN] };
        var summary = Program.Summarize(definition, [R("0"), R("1"), R("2"), R("3"), R("4")], table);
        Assert.That(summary.Single().Count, Is.EqualTo(3));
        Assert.That(summary.Single().Mean[0], Is.EqualTo(2.0));
    }

    [Test]
    public void A_failed_run_is_reported_with_the_step_that_failed_and_its_error()
    {
        var folder = Path.Combine(Path.GetTempPath(), "bench-failed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["Pipeline:Name"] = "p", ["Pipeline:Seed"] = "0" }).Build();
            File.WriteAllText(Path.Combine(folder, "config.resolved.json"), PipelineDefinition.ResolvedJson(configuration));
            var report = new RunReport { Pipeline = "p", Device = "cpu", PipelineFile = "p.json", Status = "failed" };
            report.Steps.Add(new StepReport { Index = 0, Use = "load", Kind = "step", Status = "ok" });
            report.Steps.Add(new StepReport { Index = 1, Use = "hessian-dp", Kind = "compressor", Status = "failed", Error = "ArgumentException: the budget cannot be met" });
            File.WriteAllText(Path.Combine(folder, "report.json"), System.Text.Json.JsonSerializer.Serialize(report, RunReport.Json));

            var (finished, why) = Program.FinishedRun(folder, configuration);
            Assert.That(finished, Is.Null);
            Assert.That(why, Does.Contain("failed: step 1 'hessian-dp': ArgumentException: the budget cannot be met"));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
