using Platform.Host.Cli;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>Runs the CLI in-process, as `platform ...` would, and captures what it prints.</summary>
internal static class HostRunner
{
    public sealed record Result(int ExitCode, string Output, string Errors)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Errors}";
    }

    public static Result Run(params string[] args)
    {
        // Test pipelines write into the test's scratch folder, which the platform's own default (the current folder) would refuse.
        if (args.Length > 0 && args[0] is "run" or "check" && !args.Contains("--output-root"))
            args = [.. args, "--output-root", TestPaths.ScratchRoot];
        return RunExactly(args);
    }

    /// <summary>The arguments as given, nothing added.</summary>
    public static Result RunExactly(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var code = Program.Run(args, output, errors);
        return new Result(code, output.ToString(), errors.ToString());
    }

    /// <summary>
    /// Runs `platform run FILE` as its own process, from the built program (artifacts/host) with the solution's built
    /// plugins, writing below the tests' scratch root: what a user gets, native libraries and plugin load contexts included.
    /// </summary>
    public static ChildProcess.Result RunBuilt(string pipelineFile)
    {
        var host = Path.Combine(TestPaths.RepoRoot, "artifacts", "host", "platform.dll");
        Assert.That(File.Exists(host), "the platform program is built into artifacts/host (dotnet build Platform.sln)");
        return ChildProcess.Run("dotnet", [host, "run", pipelineFile, "--plugins", SamplePluginBuild.BuiltPlugins, "--output-root", TestPaths.ScratchRoot]);
    }

    /// <summary>Writes a pipeline file into a fresh folder whose output goes to the same folder.</summary>
    public static (string File, string Output) WritePipeline(string text, string extension = ".json")
    {
        var folder = TestPaths.NewTempDirectory("pipeline");
        var file = Path.Combine(folder, "pipeline" + extension);
        File.WriteAllText(file, text.Replace("$OUTPUT", Path.Combine(folder, "run").Replace("\\", "/")));
        return (file, Path.Combine(folder, "run"));
    }

    public static string BlobsPipeline(string steps, string datasetOptions = "{ \"Points\": 101 }") => $$"""
        {
          "Pipeline": {
            "Name": "test",
            "Seed": 1,
            "Output": "$OUTPUT",
            "Dataset": { "Use": "gaussian-blobs", "Options": {{datasetOptions}} },
            "Steps": [ {{steps}} ]
          }
        }
        """;
}
