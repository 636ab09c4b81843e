using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

public sealed class ChannelUsageStepOptions
{
    [Description("Split whose samples the model runs on.")]
    public string Split { get; set; } = "val";

    [Description("Samples run (the first ones of the split); they are collated once and held in memory for every channel's pass.")]
    [Range(1, 4096)]
    public int Samples { get; set; } = 64;

    [Description("Samples per forward pass.")]
    [Range(1, 4096)]
    public int BatchSize { get; set; } = 16;

    [Description("A channel is inert when removing it alone changes the declared outputs by at most this fraction of their size (mean squared change over mean square). 0: only channels whose removal changes nothing at all, such as a unit that is zero on every sample.")]
    [Range(0.0, 1.0)]
    public double Tolerance { get; set; } = 1e-9;
}

/// <summary>
/// Which channels of a channel-prunable model do nothing on a split. Each channel is removed alone (its readers' columns
/// zeroed, as <see cref="ChannelSurgery.ZeroRemoved"/> simulates a removal), the samples run again, and the change of
/// the model's declared outputs is compared with their size. A unit that a ReLU holds at zero on every sample changes
/// nothing: it is free to prune, and in a tiny model it is capacity lost (issue 14: a 4-channel layer with one dead
/// unit has three). Reports the count per group and a CSV of every channel's relative change.
/// </summary>
public sealed class ChannelUsageStep(ChannelUsageStepOptions options) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        var model = context.RequireModel("channel-usage");
        if (model is not IChannelPrunable prunable)
            throw new InvalidOperationException($"channel-usage: model '{model.Spec.Use}' does not expose channel groups (IChannelPrunable), so its channels cannot be removed one at a time.");
        var split = context.Split(options.Split);
        if (split.Count == 0) throw new InvalidOperationException($"channel-usage: split '{options.Split}' has no samples.");
        var groups = prunable.ChannelGroups;
        // Every declared output weighs 1 and is compared element by element (Raw, sigmoid where declared).
        using var calibration = CalibrationSet.Record(context, model, split, Math.Min(options.Samples, split.Count), options.BatchSize,
            new DistortionWeights(), useStages: false, "channel-usage");
        var size = OutputSize(model, calibration);
        var changes = new Dictionary<string, double[]>();
        using (var progress = context.Services.Progress.Start("channel-usage: each channel removed alone", groups.Sum(g => g.Channels)))
        {
            foreach (var group in groups)
            {
                var change = new double[group.Channels];
                for (long channel = 0; channel < group.Channels; channel++)
                {
                    var kept = Enumerable.Range(0, (int)group.Channels).Select(c => (long)c).Where(c => c != channel).ToArray();
                    var zeroed = ChannelSurgery.ZeroRemoved(model.Module, group, kept);
                    try
                    {
                        var distortion = calibration.Measure(model);
                        change[channel] = size > 0 ? distortion / size : distortion;
                    }
                    finally
                    {
                        ChannelSurgery.Restore(zeroed);
                    }
                    progress.Advance();
                }
                changes[group.Name] = change;
            }
        }
        return Report(context, groups, changes, calibration.Samples);
    }

    /// <summary>
    /// The reference outputs' mean square, averaged over the batches as <see cref="CalibrationSet.Measure(IModel)"/> averages
    /// the distortion: the size a removal's change is read against (sigmoid where declared, as the distortion compares).
    /// </summary>
    private static double OutputSize(IModel model, CalibrationSet calibration)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return Enumerable.Range(0, calibration.Batches.Count).Average(b => model.DistortionOutputs
            .Sum(spec => OutputDistortion.Comparable(calibration.ReferenceOf(b), spec).square().mean().to_type(ScalarType.Float64).item<double>()));
    }

    private StepOutcome Report(PipelineContext context, IReadOnlyList<ChannelGroup> groups, Dictionary<string, double[]> changes, int sampleCount)
    {
        var outcome = new StepOutcome();
        var rows = new List<IReadOnlyList<string>>();
        var csv = new StringBuilder("group,channel,relativeChange\n");
        long total = 0, inert = 0;
        foreach (var group in groups)
        {
            var change = changes[group.Name];
            var groupInert = change.Count(c => c <= options.Tolerance);
            total += change.Length;
            inert += groupInert;
            outcome.Metrics[$"inertChannels/{group.Name}"] = groupInert;
            rows.Add([group.Name, change.Length.ToString(CultureInfo.InvariantCulture), groupInert.ToString(CultureInfo.InvariantCulture),
                change.Min().ToString("G3", CultureInfo.InvariantCulture), change.Max().ToString("G3", CultureInfo.InvariantCulture)]);
            for (var c = 0; c < change.Length; c++)
                csv.Append(CultureInfo.InvariantCulture, $"{group.Name},{c},{change[c]:R}\n");
        }
        outcome.Metrics["channels"] = total;
        outcome.Metrics["inertChannels"] = inert;
        outcome.Metrics["inertFraction"] = total > 0 ? (double)inert / total : 0;
        // How close the least useful channel comes to inert: a near-dead unit shows here when none is dead outright.
        outcome.Metrics["smallestChange"] = changes.Values.SelectMany(c => c).DefaultIfEmpty(0).Min();
        outcome.Metrics["samples"] = sampleCount;
        outcome.Tables.Add(new ReportTable($"Channels whose removal alone changes the outputs by at most {options.Tolerance:G3} of their size ({sampleCount} '{options.Split}' samples)",
            ["group", "channels", "inert", "smallest change", "largest change"], rows));
        var file = Path.Combine(context.StepDirectory("usage"), "channel-usage.csv");
        AtomicFile.WriteAllText(file, csv.ToString());
        outcome.Files.Add(Path.GetFullPath(file));
        return outcome;
    }
}
