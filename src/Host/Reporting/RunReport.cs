using System.Text.Json;
using System.Text.Json.Serialization;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;

namespace Platform.Host.Reporting;

/// <summary>Model size at the end of a step, from the kit's one counter.</summary>
public sealed record ModelSummary(long Params, long NonzeroParams, double Flops, double DenseFlops)
{
    public static ModelSummary From(ModelStats s) => new(s.Params, s.NonzeroParams, s.Flops, s.DenseFlops);
}

public sealed class StepReport
{
    public int Index { get; init; }
    public required string Use { get; init; }
    public required string Kind { get; init; }
    public string Status { get; set; } = "running";
    public double Seconds { get; set; }
    public ModelSummary? Model { get; set; }
    public Dictionary<string, double> Metrics { get; set; } = new();
    public List<string> Files { get; set; } = [];
    public List<string> Notes { get; set; } = [];
    public Dictionary<string, string>? Provenance { get; set; }
    public string? Error { get; set; }

    [JsonIgnore] public List<ReportTable> Tables { get; set; } = [];
}

public sealed record TransformReport(string Step, string Settings, long Samples, long PointsIn, long PointsOut);

/// <summary>
/// What report.json holds: the same shape for every run, so tools can read any run alike
/// (pipeline, seed, steps[index, use, seconds, model{params, nonzeroParams, flops}, metrics]).
/// </summary>
public sealed class RunReport
{
    public required string Pipeline { get; init; }
    public int Seed { get; init; }
    public required string Device { get; init; }

    /// <summary>The GPU a cuda run ran on, as its driver names it (null on the CPU, or where the driver does not say).</summary>
    public string? Accelerator { get; init; }

    public required string PipelineFile { get; init; }

    /// <summary>The run's output folder (where this report is written).</summary>
    [JsonIgnore] public string OutputDirectory { get; init; } = "";
    public DateTimeOffset Started { get; init; }
    public string Status { get; set; } = "running";
    public double Seconds { get; set; }
    public int Cores { get; init; } = Environment.ProcessorCount;

    /// <summary>What the torch runtime chose for this process (TorchRuntime.Status: oneDNN cap or off, gradient check).</summary>
    public string? TorchRuntime { get; set; }

    /// <summary>The dataset's own description of what it is (root, generator seed, frames per split).</summary>
    public Dictionary<string, string> Dataset { get; set; } = new();

    /// <summary>What the dataset's reader dropped or skipped in the data the run read (IDataset.InputCounts), e.g. non-finite points.</summary>
    public Dictionary<string, double> InputCounts { get; set; } = new();
    public List<StepReport> Steps { get; } = [];
    public List<TransformReport> Transforms { get; set; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
