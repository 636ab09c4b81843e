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
}
