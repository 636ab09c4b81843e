using System.Diagnostics;
using System.Text;
using Platform.Host.Configuration;
using Platform.Host.Pipeline;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>
/// Mutated pipeline files, JSON and YAML (issue 15): each is read, or refused with a PlatformException that names the
/// file or the key; no other exception and no hang (the reader bounds size and refuses aliases).
/// </summary>
public class PipelineFileFuzzTests
{
    private const string Json = """
        {
          "Pipeline": {
            "Name": "fuzz", "Seed": 3, "Threads": 1, "Device": "cpu",
            "Dataset": { "Use": "shapes", "Options": { "Classes": 4, "Points": 64 } },
            "Model": { "Use": "pointnet", "Options": { "WidthMultiplier": 0.25, "NumPoints": 64 } },
            "Steps": [
              { "Use": "train", "Options": { "Epochs": 2, "BatchSize": 16 } },
              { "Use": "evaluate", "Options": { "Split": "val" } },
              { "Use": "hessian-dp", "Options": { "FlopsReduction": 2.0, "KeepDense": "head.*" } }
            ]
          }
        }
        """;

    private const string Yaml = """
        Pipeline:
          Name: fuzz
          Seed: 3
          Threads: 1
          Device: cpu
          Dataset:
            Use: shapes
            Options: { Classes: 4, Points: 64 }
          Model:
            Use: pointnet
            Options:
              WidthMultiplier: 0.25
              NumPoints: 64
          Steps:
            - Use: train
              Options: { Epochs: 2, BatchSize: 16 }
            - Use: evaluate
              Options:
                Split: val
            - Use: hessian-dp
              Options: { FlopsReduction: 2.0, KeepDense: "head.*" }
        """;

    private static void Fuzz(string extension, string valid)
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("fuzz-pipeline"), "pipeline" + extension);
        var watch = Stopwatch.StartNew();
        var (read, _) = ReaderFuzz.CheckAt<PlatformException>(file, Encoding.UTF8.GetBytes(valid), 400, seed: extension.Length,
            path => PipelineDefinition.Read(PipelineConfiguration.Load(path, []), path),
            names: message => message.Contains(file, StringComparison.Ordinal) || message.Contains("Pipeline", StringComparison.Ordinal));
        Assert.That(read, Is.GreaterThan(0), "some variants stay valid (a value changed, not the structure)");
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(45)));
    }

    [Test]
    public void Mutated_json_pipelines_are_read_or_refused_by_file_or_key() => Fuzz(".json", Json);

    [Test]
    public void Mutated_yaml_pipelines_are_read_or_refused_by_file_or_key() => Fuzz(".yaml", Yaml);
}
