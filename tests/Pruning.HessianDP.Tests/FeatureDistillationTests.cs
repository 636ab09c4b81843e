using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>The kit's feature imitation (FeatureDistillation): adaptors fitted by least squares, the staged forward, the term it trains.</summary>
public class FeatureDistillationTests
{
    private static StagedTinyPointModel Model(int seed, int width = 64)
    {
        manual_seed(seed);
        var model = new StagedTinyPointModel(width: width);
        model.Module.eval();
        return model;
    }

    private static ModelBatch Batch(IModel model, int seed, int count = 8)
    {
        var random = new Random(seed);
        var samples = Enumerable.Range(0, count).Select(i =>
        {
            var points = Enumerable.Range(0, TinyPointModel.Points * 3).Select(_ => (float)random.NextDouble()).ToArray();
            return new Sample { Id = $"s{i}", Points = points, PointFeatures = 3, Label = i % 4 };
        }).ToArray();
        return model.Collate(samples, CPU);
    }

    /// <summary>A width-64 teacher, a narrower student of another seed, a batch, and the adaptors fitted at one stage.</summary>
    private sealed class WideTeacher : IDisposable
    {
        public WideTeacher(int studentWidth, int samples, int stage, double attention = 0)
        {
            Teacher = Model(seed: 3, width: 64);
            Student = Model(seed: 4, width: studentWidth);
            Batch = FeatureDistillationTests.Batch(Student, seed: 2, count: samples);
            Features = FeatureDistillation.Fit(Student, Teacher, stage, Batch, attention);
        }

        public StagedTinyPointModel Teacher { get; }
        public StagedTinyPointModel Student { get; }
        public ModelBatch Batch { get; }
        public FeatureDistillation Features { get; }

        public void Dispose()
        {
            Features.Dispose();
            Batch.Dispose();
            Student.Dispose();
            Teacher.Dispose();
        }
    }

    [Test]
    public void A_student_equal_to_its_teacher_gets_identity_adaptors_a_zero_term_and_its_own_outputs()
    {
        using var teacher = Model(seed: 3);
        using var student = Model(seed: 3);
        using var batch = Batch(student, seed: 1);

        using var features = FeatureDistillation.Fit(student, teacher, -1, batch);
        var (output, reference, loss) = features.Run(batch);

        Assert.That(features.Stage, Is.EqualTo(3), "-1 is the state the last stage reads");
        Assert.That(features.AdaptorWeight(0).shape, Is.EqualTo(new long[] { 64, 64 }));
        var state = student.Enter(3, batch)[0];
        Assert.That((features.Adapt(0, state) - teacher.Enter(3, batch)[0]).abs().max().item<float>(), Is.LessThan(1e-3),
            "equal features are mapped onto themselves");
        Assert.That(loss.item<float>(), Is.LessThan(1e-4));
        Assert.That(output["heatmap"].allclose(student.Forward(batch)["heatmap"]), "the staged pass computes what Forward computes");
        Assert.That(reference["boxes"].allclose(teacher.Forward(batch)["boxes"]));
    }

    [TestCase(0.0)]
    [TestCase(0.5)]
    public void A_narrower_students_adaptor_maps_its_channels_into_the_teachers_at_the_least_squares_minimum(double attention)
    {
        using var fixture = new WideTeacher(studentWidth: 32, samples: 16, stage: 1, attention);
        var (features, batch) = (fixture.Features, fixture.Batch);
        var fitted = features.Run(batch).Loss.item<float>();

        // Stage 1 (conv2) reads conv1's output, [batch, width / 2, points]: 512 positions to fit 16 channels and a bias from.
        Assert.That(features.AdaptorWeight(0).shape, Is.EqualTo(new long[] { 32, 16 }));
        Assert.That(fitted, Is.GreaterThan(0).And.LessThan(1), "better than predicting zero, which scores 1");
        // With attention the positions weigh unequally, and the fit is weighted as the term is (else a move could help).
        if (attention == 0) Assert.That(features.AttendedFraction, Is.EqualTo(1));
        else Assert.That(features.AttendedFraction, Is.GreaterThan(0).And.LessThan(0.99));
        // Any move away from the fit scores worse on the batch it was fitted on.
        manual_seed(7);
        var parameters = features.Parameters.ToArray();
        for (var trial = 0; trial < 5; trial++)
        {
            var steps = parameters.Select(p => randn_like(p) * 0.05).ToArray();
            using (no_grad()) for (var i = 0; i < parameters.Length; i++) parameters[i].add_(steps[i]);
            Assert.That(features.Run(batch).Loss.item<float>(), Is.GreaterThan(fitted));
            using (no_grad()) for (var i = 0; i < parameters.Length; i++) parameters[i].sub_(steps[i]);
        }
    }

    [Test]
    public void Training_the_student_and_its_adaptor_on_the_term_brings_its_features_toward_the_teachers()
    {
        using var fixture = new WideTeacher(studentWidth: 8, samples: 64, stage: 2);
        var (features, batch) = (fixture.Features, fixture.Batch);
        var optimizer = optim.Adam(fixture.Student.Module.parameters().Concat(features.Parameters), 1e-3);

        // Stage 2 reads the pooled features, [batch, width]: 64 rows, a 9-unknown fit per teacher channel that leaves an error.
        var first = features.Run(batch).Loss.item<float>();
        for (var step = 0; step < 100; step++)
        {
            optimizer.zero_grad();
            features.Run(batch).Loss.backward();
            optimizer.step();
        }

        Assert.That(features.Run(batch).Loss.item<float>(), Is.LessThan(first * 0.95), $"from {first}");
    }

    [Test]
    public void Attention_weights_are_the_softmax_of_the_teachers_mean_absolute_activation_scaled_by_its_mean_and_average_one()
    {
        // One sample, two channels, positions [1, 2]: mean |activation| over channels is 1 at the first, 3 at the second.
        using var state = tensor(new float[] { 1, -3, 1, 3 }).reshape(1, 2, 1, 2);

        using var weights = FeatureDistillation.PositionWeights(state, temperature: 1)!;

        // a / (mean(a) · T) = [0.5, 1.5]; 2 · softmax = [2 / (1 + e), 2e / (1 + e)].
        Assert.That(weights.shape, Is.EqualTo(new long[] { 1, 1, 1, 2 }), "broadcasts over the channels");
        Assert.That(weights.flatten().data<float>().ToArray(), Is.EqualTo(new[] { 2 / (1 + Math.E), 2 * Math.E / (1 + Math.E) }).Within(1e-5));
        using var sharper = FeatureDistillation.PositionWeights(state, temperature: 0.1)!;
        Assert.That(sharper.flatten()[1].item<float>(), Is.GreaterThan(1.99f), "a low temperature puts the weight on the active position");
        using var scaled = FeatureDistillation.PositionWeights(state * 100, temperature: 1)!;
        Assert.That(scaled.allclose(weights), "the features' scale does not change the weights");
        Assert.That(FeatureDistillation.PositionWeights(state, temperature: 0), Is.Null, "0: positions weigh alike");
        using var pooled = zeros(2, 5);
        Assert.That(FeatureDistillation.PositionWeights(pooled, temperature: 1), Is.Null, "a [batch, channels] state has no positions");
    }

    [Test]
    public void A_negative_attention_temperature_is_refused()
    {
        using var teacher = Model(seed: 3);
        using var student = Model(seed: 3);
        using var batch = Batch(student, seed: 1);

        var error = Assert.Throws<ArgumentException>(() => FeatureDistillation.Fit(student, teacher, -1, batch, attentionTemperature: -1))!;
        Assert.That(error.Message, Does.Contain("attention temperature -1"));
    }

    [Test]
    public void A_stage_that_is_not_between_two_stages_is_refused_with_the_range()
    {
        using var teacher = Model(seed: 3);
        using var student = Model(seed: 3);
        using var batch = Batch(student, seed: 1);

        foreach (var stage in new[] { 0, 4, -4 })
        {
            var error = Assert.Throws<ArgumentException>(() => FeatureDistillation.Fit(student, teacher, stage, batch))!;
            Assert.That(error.Message, Does.Contain($"stage {stage}").And.Contain("1 .. 3"));
        }
    }
}
