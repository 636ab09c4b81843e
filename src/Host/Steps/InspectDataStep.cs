using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Pipeline;

namespace Platform.Host.Steps;

public sealed class InspectDataStepOptions
{
    [Description("Split to look at.")]
    public string Split { get; set; } = "val";

    [Description("Look at most at this many samples (0: all).")]
    [Range(0, int.MaxValue)]
    public int MaxSamples { get; set; } = 16;
}

/// <summary>Reads samples of a split as the later steps will see them (after point transforms) and reports their sizes.</summary>
public sealed class InspectDataStep(InspectDataStepOptions options) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var split = context.Split(options.Split);
        var count = options.MaxSamples > 0 ? Math.Min(options.MaxSamples, split.Count) : split.Count;
        var points = new List<int>(count);
        long boxes = 0;
        for (var i = 0; i < count; i++)
        {
            var sample = split.Get(i);
            points.Add(sample.PointCount);
            boxes += sample.Boxes.Count;
        }
        var outcome = new StepOutcome();
        outcome.Metrics["samples"] = count;
        outcome.Metrics["splitSize"] = split.Count;
        if (count > 0)
        {
            outcome.Metrics["meanPoints"] = points.Average();
            outcome.Metrics["minPoints"] = points.Min();
            outcome.Metrics["maxPoints"] = points.Max();
            outcome.Metrics["meanBoxes"] = (double)boxes / count;
        }
        return outcome;
    }
}
