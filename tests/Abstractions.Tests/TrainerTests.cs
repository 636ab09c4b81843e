using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Tests;

/// <summary>A linear classifier of the mean of a cloud's points: small enough to train in milliseconds.</summary>
internal sealed class MeanPointClassifier : ModelBase
{
    private readonly nn.Module<Tensor, Tensor> _net = nn.Sequential(("fc1", nn.Linear(3, 8)), ("relu", nn.ReLU()), ("fc2", nn.Linear(8, 2)));

    public MeanPointClassifier() : base("mean-point", new { }, new DatasetInfo("two-blobs", ModelTask.Classification, ["left", "right"], 3)) { }

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => _net;

    /// <summary>Collation here reads only the samples; tests turn prefetching on and off with it.</summary>
    public bool OffThread { get; init; } = true;
    public override bool CollatesOffThread => OffThread;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device)
    {
        var means = samples.SelectMany(s => Enumerable.Range(0, 3).Select(axis =>
            Enumerable.Range(0, s.PointCount).Average(p => s.Points[p * 3 + axis]))).Select(v => (float)v).ToArray();
        return new ModelBatch(samples, new Dictionary<string, Tensor>
        {
            ["x"] = tensor(means, [samples.Count, 3]).to(device),
            ["y"] = tensor(samples.Select(s => (long)s.Label).ToArray()).to(device),
        });
    }

    public override ModelOutput Forward(ModelBatch batch) => new(new Dictionary<string, Tensor> { ["logits"] = _net.forward(batch["x"]) });

    public override LossTerms Loss(ModelOutput output, ModelBatch batch)
    {
        var loss = nn.functional.cross_entropy(output["logits"], batch["y"]);
        return new LossTerms(loss, new Dictionary<string, double> { ["ce"] = loss.item<float>() });
    }

    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) =>
        output["logits"].argmax(1).data<long>().Select(c => new Prediction { ClassId = (int)c }).ToArray();

    /// <summary>Clouds around x = -2 (label 0) or x = +2 (label 1).</summary>
    public static ISampleSource TwoBlobs(int count, int seed)
    {
        var random = new Random(seed);
        var samples = Enumerable.Range(0, count).Select(i =>
        {
            var label = i % 2;
            var points = Enumerable.Range(0, 30).Select(k => (k % 3 == 0 ? (label == 0 ? -2f : 2f) : 0f) + (random.NextSingle() - 0.5f)).ToArray();
            return new Sample { Id = $"s{i}", Points = points, PointFeatures = 3, Label = label };
        }).ToArray();
        return new InMemorySampleSource("train", samples);
    }
}

public class TrainerTests
{
    private static (float[] Weights, TrainHistory History) Train(int seed, bool prefetch = true)
    {
        Seeding.Seed(seed);
        using var model = new MeanPointClassifier();
        var history = new Trainer(RunServices.ForTesting(seed)).Fit(model, MeanPointClassifier.TwoBlobs(32, 1),
            new TrainOptions { Epochs = 5, BatchSize = 8, LearningRate = 0.05, PrefetchBatch = prefetch });
        var weights = model.Module.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();
        return (weights, history);
    }

    [Test]
    public void Collating_the_next_batch_during_the_step_trains_to_the_same_weights()
    {
        var prefetched = Train(5, prefetch: true);
        var inTurn = Train(5, prefetch: false);
        Assert.That(prefetched.Weights, Is.EqualTo(inTurn.Weights));
        Assert.That(prefetched.History.EpochLoss, Is.EqualTo(inTurn.History.EpochLoss));
    }

    [Test]
    public void Inference_collating_ahead_gives_the_same_predictions_in_the_same_order()
    {
        Seeding.Seed(3);
        using var model = new MeanPointClassifier();
        var data = MeanPointClassifier.TwoBlobs(11, 4);   // 11 samples in batches of 4: the last batch is short
        model.Module.eval();
        var ahead = Inference.Predict(model, data, RunServices.ForTesting(3), batchSize: 4);
        using var inTurn = new MeanPointClassifier { OffThread = false };
        inTurn.Module.load_state_dict(model.Module.state_dict());
        var plain = Inference.Predict(inTurn, data, RunServices.ForTesting(3), batchSize: 4);
        Assert.That(ahead.Select(r => r.Sample.Id), Is.EqualTo(Enumerable.Range(0, 11).Select(i => $"s{i}")));
        Assert.That(ahead.Select(r => r.Prediction.ClassId), Is.EqualTo(plain.Select(r => r.Prediction.ClassId)));
        Assert.That(plain.Select(r => r.Sample.Id), Is.EqualTo(ahead.Select(r => r.Sample.Id)));
    }

    [Test]
    public void A_batch_that_fails_to_collate_during_a_step_stops_training_with_its_own_error()
    {
        Seeding.Seed(1);
        using var model = new MeanPointClassifier();
        var samples = Enumerable.Range(0, 8).Select(i => new Sample { Id = $"s{i}", Points = [i, 0f, 0f], PointFeatures = 3, Label = i % 2 }).ToArray();
        var data = new FailingSource(new InMemorySampleSource("train", samples), failAt: 5);
        var error = Assert.Throws<InvalidDataException>(() => new Trainer(RunServices.ForTesting(1)).Fit(model, data,
            new TrainOptions { Epochs = 1, BatchSize = 1, LearningRate = 0.05, PrefetchBatch = true }));
        Assert.That(error!.Message, Does.Contain("sample 5"));
    }

    /// <summary>A source whose one sample cannot be read, as a damaged file would be.</summary>
    private sealed class FailingSource(ISampleSource inner, int failAt) : ISampleSource
    {
        public string Name => inner.Name;
        public int Count => inner.Count;
        public Sample Get(int index) => index == failAt ? throw new InvalidDataException($"sample {index} is damaged") : inner.Get(index);
    }

    [Test]
    public void The_same_seed_trains_to_the_same_weights_and_another_seed_does_not()
    {
        var first = Train(5);
        var again = Train(5);
        var other = Train(6);
        Assert.That(again.Weights, Is.EqualTo(first.Weights));
        Assert.That(other.Weights, Is.Not.EqualTo(first.Weights));
    }

    [Test]
    public void Training_lowers_the_loss_and_the_model_separates_the_blobs()
    {
        var (_, history) = Train(5);
        Assert.That(history.EpochLoss[^1], Is.LessThan(history.EpochLoss[0] / 3));

        Seeding.Seed(5);
        using var model = new MeanPointClassifier();
        var data = MeanPointClassifier.TwoBlobs(32, 1);
        new Trainer(RunServices.ForTesting(5)).Fit(model, data, new TrainOptions { Epochs = 5, BatchSize = 8, LearningRate = 0.05 });
        var predictions = Inference.Predict(model, data, RunServices.ForTesting(5), batchSize: 8);
        Assert.That(predictions.Count(p => p.Prediction.ClassId == p.Sample.Label), Is.EqualTo(32));
    }

    [Test]
    public void Masked_weights_stay_zero_through_training_and_checkpoints_are_written()
    {
        Seeding.Seed(2);
        using var model = new MeanPointClassifier();
        var fc1 = model.PrunableLayers.Single(l => l.Name == "fc1");
        var keep = ones_like(fc1.Weight);
        keep[.., 0] = zeros(8); // drop every weight reading the x coordinate
        model.Masks.Set(fc1, keep);
        var folder = Platform.TestKit.TestPaths.NewTempDirectory("trainer");

        new Trainer(RunServices.ForTesting(2)).Fit(model, MeanPointClassifier.TwoBlobs(16, 1),
            new TrainOptions { Epochs = 2, BatchSize = 4, CheckpointEvery = 1 }, folder);

        Assert.That(fc1.Weight[.., 0].abs().sum().item<float>(), Is.Zero);
        Assert.That(ModelStats.Measure(model).NonzeroParams, Is.EqualTo(8 * 3 + 8 + 8 * 2 + 2 - 8));
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName).Where(f => f!.EndsWith(".ckpt")), Is.EquivalentTo(new[] { "epoch-0001.ckpt", "epoch-0002.ckpt", "last.ckpt" }));
    }

    /// <summary>A new folder holding what epochs 1 and 2 of the run in <paramref name="whole"/> wrote (a run killed during epoch 3), less files ending in <paramref name="except"/>.</summary>
    private static string FirstTwoEpochsOf(string whole, string name, string? except = null)
    {
        var folder = Platform.TestKit.TestPaths.NewTempDirectory(name);
        foreach (var file in Directory.GetFiles(whole).Where(f => Path.GetFileName(f).StartsWith("epoch-0001") || Path.GetFileName(f).StartsWith("epoch-0002")))
            if (except is null || !file.EndsWith(except)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    [TestCase(LearningRateSchedule.OneCycle)]
    [TestCase(LearningRateSchedule.Cosine)]
    public void A_run_resumed_from_an_epoch_checkpoint_ends_with_the_uninterrupted_runs_weights(LearningRateSchedule schedule)
    {
        var options = new TrainOptions { Epochs = 4, BatchSize = 4, LearningRate = 0.05, CheckpointEvery = 1, Schedule = schedule };
        var data = MeanPointClassifier.TwoBlobs(24, 1);
        var whole = Platform.TestKit.TestPaths.NewTempDirectory("resume-whole");
        Seeding.Seed(4);
        using var uninterrupted = new MeanPointClassifier();
        var full = new Trainer(RunServices.ForTesting(4)).Fit(uninterrupted, data, options, whole);

        // A run killed during epoch 3: its folder holds what epochs 1 and 2 wrote.
        var killed = FirstTwoEpochsOf(whole, "resume-killed");
        Seeding.Seed(99);   // another start: the resumed run must not depend on it
        using var resumedModel = new MeanPointClassifier();
        var resumed = new Trainer(RunServices.ForTesting(4)).Fit(resumedModel, data, new TrainOptions
        {
            Epochs = 4, BatchSize = 4, LearningRate = 0.05, CheckpointEvery = 1, Schedule = schedule, Resume = true,
        }, killed);

        var expected = uninterrupted.Module.parameters().Select(p => p.data<float>().ToArray()).ToList();
        var actual = resumedModel.Module.parameters().Select(p => p.data<float>().ToArray()).ToList();
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(resumed.EpochLoss, Is.EqualTo(full.EpochLoss), "the history of the first two epochs comes from the saved state");
        Assert.That(resumed.EpochLearningRate, Is.EqualTo(full.EpochLearningRate));
    }

    [Test]
    public void A_weight_average_ramps_its_decay_over_the_first_updates_and_swaps_back_and_forth()
    {
        using var module = nn.Linear(1, 1, hasBias: false);
        using (no_grad()) module.weight!.fill_(0);
        using var average = new WeightAverage(module, decay: 0.5);
        void Step(float live)
        {
            using (no_grad()) module.weight!.fill_(live);
            average.Update();
        }
        float Averaged()
        {
            average.Swap();
            var value = module.weight!.item<float>();
            average.Swap();
            return value;
        }

        Step(1);   // decay min(0.5, 1/10): 0.1 * 0 + 0.9 * 1
        Assert.That(Averaged(), Is.EqualTo(0.9f).Within(1e-6));
        Step(2);   // min(0.5, 2/11): (2/11) * 0.9 + (9/11) * 2 = 1.8
        Assert.That(Averaged(), Is.EqualTo(1.8f).Within(1e-6));
        Step(0);   // min(0.5, 3/12) = 0.25: 0.45
        Assert.That(Averaged(), Is.EqualTo(0.45f).Within(1e-6));
        Assert.That(module.weight!.item<float>(), Is.Zero, "two swaps leave the live weights as they were");
        for (var i = 0; i < 20; i++) Step(0);
        Assert.That(average.NextDecay, Is.EqualTo(0.5), "the ramp (1 + t) / (10 + t) passes 0.5 at t = 8; the decay is then the one asked for");
        var before = Averaged();
        Step(1);
        Assert.That(Averaged(), Is.EqualTo(0.5f * before + 0.5f).Within(1e-6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAverage(module, 1.0));
    }

    [Test]
    public void A_weight_average_follows_batch_norm_statistics_and_leaves_their_step_count_alone()
    {
        using var norm = nn.BatchNorm1d(2);
        using var average = new WeightAverage(norm, decay: 0.9);
        using (no_grad()) norm.running_mean!.fill_(10);
        norm.num_batches_tracked!.fill_(7);
        average.Update();   // decay 0.1: 0.1 * 0 + 0.9 * 10
        average.CopyIntoModel();
        Assert.That(norm.running_mean!.data<float>().ToArray(), Is.EqualTo(new[] { 9f, 9f }).Within(1e-5));
        Assert.That(norm.num_batches_tracked!.item<long>(), Is.EqualTo(7), "an integer count is not averaged");
    }

    /// <summary>The weights each step of a run starts from (w0 .. w(N-1)), its final weights, and the run's history.</summary>
    private static (List<float[]> StepStarts, float[] Final) TrainRecording(double averageDecay)
    {
        Seeding.Seed(7);
        using var model = new MeanPointClassifier();
        var starts = new List<float[]>();
        new Trainer(RunServices.ForTesting(7)).Fit(model, MeanPointClassifier.TwoBlobs(24, 1),
            new TrainOptions { Epochs = 3, BatchSize = 4, LearningRate = 0.05, WeightAverageDecay = averageDecay },
            lossOverride: (m, b) =>
            {
                starts.Add(m.Module.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray());
                return m.Loss(m.Forward(b), b);
            });
        return (starts, model.Module.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray());
    }

    [Test]
    public void Training_with_a_weight_average_steps_as_without_and_ends_at_the_average_of_the_weights_after_each_step()
    {
        var plain = TrainRecording(0);
        var averaged = TrainRecording(0.8);
        Assert.That(averaged.StepStarts, Is.EqualTo(plain.StepStarts), "the average does not feed back into training");

        // The weights after step k are the start of step k + 1; after the last step, the plain run's final weights.
        var after = plain.StepStarts.Skip(1).Append(plain.Final).ToList();
        var expected = plain.StepStarts[0].Select(v => (double)v).ToArray();
        for (var t = 0; t < after.Count; t++)
        {
            var d = Math.Min(0.8, (1.0 + t) / (10.0 + t));
            for (var i = 0; i < expected.Length; i++) expected[i] = d * expected[i] + (1 - d) * after[t][i];
        }
        Assert.That(after, Has.Count.EqualTo(18), "24 samples in batches of 4, 3 epochs");
        Assert.That(averaged.Final, Is.EqualTo(expected.Select(v => (float)v).ToArray()).Within(1e-5));
        Assert.That(averaged.Final, Is.Not.EqualTo(plain.Final).Within(1e-4));
    }

    [Test]
    public void A_run_with_a_weight_average_resumes_to_the_uninterrupted_runs_average_and_needs_the_saved_average()
    {
        TrainOptions Options(bool resume) => new() { Epochs = 3, BatchSize = 4, LearningRate = 0.05, CheckpointEvery = 1, WeightAverageDecay = 0.9, Resume = resume };
        var data = MeanPointClassifier.TwoBlobs(24, 1);
        var whole = Platform.TestKit.TestPaths.NewTempDirectory("average-whole");
        Seeding.Seed(4);
        using var uninterrupted = new MeanPointClassifier();
        new Trainer(RunServices.ForTesting(4)).Fit(uninterrupted, data, Options(false), whole);
        Assert.That(File.Exists(Path.Combine(whole, "epoch-0002.average.ckpt")));

        var killed = FirstTwoEpochsOf(whole, "average-killed");
        Seeding.Seed(99);
        using var resumedModel = new MeanPointClassifier();
        new Trainer(RunServices.ForTesting(4)).Fit(resumedModel, data, Options(true), killed);
        Assert.That(resumedModel.Module.parameters().Select(p => p.data<float>().ToArray()),
            Is.EqualTo(uninterrupted.Module.parameters().Select(p => p.data<float>().ToArray())));

        // The same folder without its average: refused, naming the file (the run would otherwise end at another average).
        var lost = FirstTwoEpochsOf(whole, "average-lost", except: ".average.ckpt");
        using var another = new MeanPointClassifier();
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(RunServices.ForTesting(4)).Fit(another, data, Options(true), lost));
        Assert.That(e!.Message, Does.Contain("epoch-0002.average.ckpt").And.Contain("WeightAverageDecay"));

        // A run without averaging cannot resume one with it: their fingerprints differ.
        var other = Assert.Throws<InvalidOperationException>(() => new Trainer(RunServices.ForTesting(4)).Fit(another, data,
            new TrainOptions { Epochs = 3, BatchSize = 4, LearningRate = 0.05, CheckpointEvery = 1, Resume = true }, killed));
        Assert.That(other!.Message, Does.Contain("average=0.9"));
    }

    [Test]
    public void A_run_built_from_loop_options_carries_every_one_of_them()
    {
        // A compressor that trains in stages (T3DNet) builds each stage's run from its loop options: one left out is
        // silently back at its default (PrefetchBatch was, until WeightAverageDecay's change).
        var loop = new TrainingLoopOptions
        {
            BatchSize = 7, LearningRate = 0.3, WeightDecay = 0.2, GradientClip = 3, Split = "val", MaxSamples = 11,
            WeightAverageDecay = 0.9, PrefetchBatch = false,
        };
        var run = new TrainOptions(loop, epochs: 2, LearningRateSchedule.Cosine);
        foreach (var property in typeof(TrainingLoopOptions).GetProperties())
        {
            Assert.That(property.GetValue(loop), Is.Not.EqualTo(property.GetValue(new TrainingLoopOptions())), $"{property.Name} is set to other than its default here");
            Assert.That(property.GetValue(run), Is.EqualTo(property.GetValue(loop)), property.Name);
        }
        Assert.That((run.Epochs, run.Schedule), Is.EqualTo((2, LearningRateSchedule.Cosine)));
    }

    [Test]
    public void Resuming_with_other_settings_is_refused_and_without_a_checkpoint_starts_afresh()
    {
        var data = MeanPointClassifier.TwoBlobs(16, 1);
        var folder = Platform.TestKit.TestPaths.NewTempDirectory("resume-other");
        using var model = new MeanPointClassifier();
        new Trainer(RunServices.ForTesting(1)).Fit(model, data, new TrainOptions { Epochs = 2, BatchSize = 4, CheckpointEvery = 1 }, folder);
        var e = Assert.Throws<InvalidOperationException>(() => new Trainer(RunServices.ForTesting(1)).Fit(model, data,
            new TrainOptions { Epochs = 3, BatchSize = 8, CheckpointEvery = 1, Resume = true }, folder));
        Assert.That(e!.Message, Does.Contain("batch=4").And.Contain("batch=8"));

        var empty = Platform.TestKit.TestPaths.NewTempDirectory("resume-empty");
        var history = new Trainer(RunServices.ForTesting(1)).Fit(model, data, new TrainOptions { Epochs = 2, BatchSize = 4, Resume = true }, empty);
        Assert.That(history.EpochLoss, Has.Count.EqualTo(2));
    }

    [Test]
    public void One_cycle_warms_up_from_a_25th_of_the_peak_and_cosine_starts_at_the_peak_and_decays()
    {
        TrainHistory Train(LearningRateSchedule schedule)
        {
            Seeding.Seed(6);
            using var model = new MeanPointClassifier();
            return new Trainer(RunServices.ForTesting(6)).Fit(model, MeanPointClassifier.TwoBlobs(16, 1),
                new TrainOptions { Epochs = 6, BatchSize = 8, LearningRate = 0.01, Schedule = schedule });
        }
        var oneCycle = Train(LearningRateSchedule.OneCycle).EpochLearningRate;
        var cosine = Train(LearningRateSchedule.Cosine).EpochLearningRate;

        Assert.That(oneCycle[0], Is.EqualTo(0.01 / 25).Within(1e-9), "OneCycleLR's initial rate is max_lr / div_factor (25)");
        Assert.That(oneCycle.Max(), Is.GreaterThan(oneCycle[0] * 10));
        Assert.That(cosine[0], Is.EqualTo(0.01).Within(1e-12), "no warm-up");
        // 16 samples in batches of 8: epoch e starts at step 2e of 12, where the rate is 0.01 * (1 + cos(pi * 2e / 12)) / 2.
        for (var e = 0; e < 6; e++)
            Assert.That(cosine[e], Is.EqualTo(0.01 * (1 + Math.Cos(Math.PI * 2 * e / 12)) / 2).Within(1e-9), $"epoch {e + 1}");
    }

    /// <summary>The model's own loss, plus a term worth 0 whose gradient is NaN (d sqrt(x)/dx at 0) on the calls <paramref name="faulty"/> picks.</summary>
    private static Trainer.LossFunction FaultyOn(Func<int, bool> faulty)
    {
        var calls = 0;
        return (m, b) =>
        {
            var terms = m.Loss(m.Forward(b), b);
            if (!faulty(++calls)) return terms;
            var zero = m.Module.parameters().First().sum() * 0;
            return terms with { Total = terms.Total + zero.sqrt() };
        };
    }

    private static (float[] Weights, Trainer Trainer) TrainWith(Trainer.LossFunction? loss)
    {
        Seeding.Seed(5);
        using var model = new MeanPointClassifier();
        var trainer = new Trainer(RunServices.ForTesting(5));
        trainer.Fit(model, MeanPointClassifier.TwoBlobs(32, 1), new TrainOptions { Epochs = 2, BatchSize = 8, LearningRate = 0.05 }, lossOverride: loss);
        return (model.Module.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray(), trainer);
    }

    [Test]
    public void A_step_whose_gradients_come_out_non_finite_once_is_recomputed_and_training_ends_as_without_the_fault()
    {
        var clean = TrainWith(FaultyOn(_ => false));
        var faulted = TrainWith(FaultyOn(call => call == 3));
        Assert.That(faulted.Trainer.RecomputedSteps, Is.EqualTo(1));
        Assert.That(clean.Trainer.RecomputedSteps, Is.Zero);
        Assert.That(faulted.Weights, Is.EqualTo(clean.Weights));
        Assert.That(faulted.Weights.All(float.IsFinite));
    }

    [Test]
    public void Gradients_that_stay_non_finite_on_recomputation_stop_training_as_divergence()
    {
        var e = Assert.Throws<InvalidOperationException>(() => TrainWith(FaultyOn(call => call >= 3)))!;
        Assert.That(e.Message, Does.Contain($"non-finite {Trainer.StepAttempts} times in a row at epoch 1, step 3").And.Contain("LearningRate"));
        // The fault (sqrt of a zero made from the first parameter) puts NaN into that parameter's gradient: the message names it.
        Assert.That(e.Message, Does.Contain("non-finite gradients in 1 of 4 tensors: fc1.weight (24 of 24);").And.Contain("non-finite weights in 0"));
    }
}
