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
        var samples = Enumerable.Range(0, Math.Min(options.Samples, split.Count)).Select(split.Get).ToArray();
        var groups = prunable.ChannelGroups;
        model.Module.eval();
        using var _ = no_grad();

        var batches = samples.Chunk(options.BatchSize).Select(b => model.Collate(b, context.Services.Device)).ToArray();
        try
        {
            var reference = batches.Select(b => Comparable(model, b)).ToArray();
            var size = reference.Sum(outputs => outputs.Sum(o => o.square().mean().item<float>()));
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
                            var squared = 0.0;
                            for (var b = 0; b < batches.Length; b++)
                            {
                                using var scope = NewDisposeScope();
                                squared += Comparable(model, batches[b]).Zip(reference[b]).Sum(p => (p.First - p.Second).square().mean().item<float>());
                            }
                            change[channel] = size > 0 ? squared / size : squared;
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
            foreach (var outputs in reference)
                foreach (var o in outputs) o.Dispose();
            return Report(context, groups, changes, samples.Length);
        }
        finally
        {
            foreach (var batch in batches) batch.Dispose();
        }
    }

    /// <summary>The declared outputs on one batch as a compressor compares them (sigmoid where declared); the rest of the pass is freed.</summary>
    private static Tensor[] Comparable(IModel model, ModelBatch batch)
    {
        using var scope = NewDisposeScope();
        var output = model.Forward(batch);
        return model.DistortionOutputs.Select(spec => OutputDistortion.Comparable(output, spec).clone().MoveToOuterDisposeScope()).ToArray();
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
