using Platform.Bench;
using Platform.Host;
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
}
