using System.Globalization;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>The channel-usage diagnosis finds exactly the units that do nothing, on a real PointNet of the platform.</summary>
public class ChannelUsageTests
{
    private static HashSet<(string Group, long Channel)> Inert(StepOutcome outcome) =>
        File.ReadAllLines(outcome.Files.Single()).Skip(1).Select(l => l.Split(','))
            .Where(r => double.Parse(r[2], CultureInfo.InvariantCulture) <= 1e-9)
            .Select(r => (r[0], long.Parse(r[1], CultureInfo.InvariantCulture))).ToHashSet();

    [Test]
    public void Exactly_the_units_that_are_zero_on_every_sample_are_inert()
    {
        // Three filters of mlp5 zeroed, then every batch norm re-estimated on the data: the three units are 0 before the
        // norm, so 0 after it (its shift is 0) and after the ReLU, on every sample: dead. Every other unit is normalised over
        // the data, so the ReLU lets it through on part of the points, and its removal moves the outputs. The dead units'
        // reader (fc1) keeps its weights: only the units' own silence makes their removal change nothing.
        Seeding.Seed(5);
        var model = ChannelPruningTests.PointNet();
        long[] dead = [1, 4, 9];
        using (no_grad())
        using (var index = tensor(dead))
            model.Module.state_dict()["mlp5.conv.weight"].index_fill_(0, index, 0);
        var context = TestPipeline.Context(model);
        var samples = context.Split("train");
        var batches = Enumerable.Range(0, samples.Count).Select(samples.Get).Chunk(16).Select(b => model.Collate(b, CPU)).ToArray();
        BatchNormRecalibration.Run(model, batches);
        foreach (var batch in batches) batch.Dispose();

        var outcome = new ChannelUsageStep(new ChannelUsageStepOptions { Split = "train", Samples = 32, BatchSize = 8 }).Run(context);

        var channels = model.ChannelGroups.Sum(g => g.Channels);
        Assert.That(Inert(outcome), Is.EquivalentTo(dead.Select(c => ("mlp5", c))));
        Assert.That(outcome.Metrics["inertChannels"], Is.EqualTo(dead.Length));
        Assert.That(outcome.Metrics["inertChannels/mlp5"], Is.EqualTo(dead.Length));
        Assert.That(outcome.Metrics["inertFraction"], Is.EqualTo(dead.Length / (double)channels).Within(1e-12));
        Assert.That(outcome.Metrics["channels"], Is.EqualTo(channels));
        Assert.That(outcome.Metrics["smallestChange"], Is.Zero);
        Assert.That(File.ReadAllLines(outcome.Files.Single()), Has.Length.EqualTo(channels + 1), "a header and one line per channel");
    }

    [Test]
    public void The_weights_are_left_as_they_were()
    {
        Seeding.Seed(6);
        var model = ChannelPruningTests.PointNet();
        var before = model.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        new ChannelUsageStep(new ChannelUsageStepOptions { Samples = 8 }).Run(TestPipeline.Context(model));
        foreach (var (name, tensor) in model.Module.state_dict())
            Assert.That(tensor.allclose(before[name], 0, 0), Is.True, name);
    }

    [Test]
    public void A_model_without_channel_groups_is_refused_by_name()
    {
        using var model = new TinyPointModel();
        var error = Assert.Throws<InvalidOperationException>(() => new ChannelUsageStep(new ChannelUsageStepOptions()).Run(TestPipeline.Context(model)))!;
        Assert.That(error.Message, Does.Contain("tiny-point").And.Contain("IChannelPrunable"));
    }
}
