using System.Text.Json;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Distill.T3DNet;
using Platform.Plugins.Models.PointNet;
using Platform.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Distill.T3DNet.Tests;

/// <summary>Stands in for the host's factory: builds PointNet and PointNet++ directly.</summary>
internal sealed class PointNetFactory : IComponentFactory
{
    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset)
    {
        Assert.That(use, Is.AnyOf("pointnet", "pointnet2-ssg"));
        if (use == "pointnet2-ssg")
            return new PointNet2SsgModel(optionsJson is null ? new PointNet2SsgOptions() : JsonSerializer.Deserialize<PointNet2SsgOptions>(optionsJson)!, dataset);
        var options = optionsJson is null ? new PointNetOptions() : JsonSerializer.Deserialize<PointNetOptions>(optionsJson)!;
        return new PointNetModel(options, dataset);
    }

    public IModel LoadModel(string checkpointPath)
    {
        var header = Checkpoint.ReadHeader(checkpointPath);
        var model = CreateModel(header.Spec.Use, header.Spec.OptionsJson, header.Spec.Dataset);
        Checkpoint.LoadInto(model, checkpointPath);
        return model;
    }
}

public class KnowledgeDistillationTests
{
    [Test]
    public void Kl_of_identical_logits_is_zero()
    {
        using var logits = tensor(new float[] { 1, -2, 0.5f, 3, 3, 3 }, new long[] { 2, 3 });
        Assert.That(KnowledgeDistillation.KlDivergence(logits, logits.clone(), 4).item<float>(), Is.EqualTo(0).Within(1e-7));
    }

    [Test]
    public void Kl_matches_the_hand_computed_divergence_of_two_distributions()
    {
        // Teacher (3/4, 1/4), student (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2).
        using var teacher = tensor(new float[] { (float)Math.Log(3), 0 }, new long[] { 1, 2 });
        using var student = zeros(1, 2);
        var expected = 0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5);
        Assert.That(KnowledgeDistillation.KlDivergence(student, teacher, 1).item<float>(), Is.EqualTo(expected).Within(1e-6));
        // At T = 2 the teacher's logits halve: (sqrt 3, 1) / (sqrt 3 + 1).
        var p = Math.Sqrt(3) / (Math.Sqrt(3) + 1);
        var expectedT2 = p * Math.Log(2 * p) + (1 - p) * Math.Log(2 * (1 - p));
        Assert.That(KnowledgeDistillation.KlDivergence(student, teacher, 2).item<float>(), Is.EqualTo(expectedT2).Within(1e-6));
    }
}

public class T3DNetCompressorTests
{
    private static (PipelineContext Context, PointNetModel Teacher) TrainedTeacher(int trainCount = 24)
    {
        var services = RunServices.ForTesting(seed: 0, outputDirectory: TestPaths.NewTempDirectory("t3dnet"));
        var dataset = new ShapesDataset(new ShapesOptions { Classes = 4, TrainCount = trainCount, ValCount = 8, TestCount = 4, Points = 64, Augment = false }, services);
        var context = new PipelineContext(services, dataset, new PointNetFactory());
        torch.manual_seed(0);
        var teacher = new PointNetModel(new PointNetOptions { WidthMultiplier = 0.25, NumPoints = 64, Dropout = 0 }, dataset.Info);
        new Trainer(services).Fit(teacher, dataset.GetSplit("train"), new TrainOptions { Epochs = 3, BatchSize = 8, LearningRate = 1e-2 });
        context.Model = teacher;
        return (context, teacher);
    }

    private static double MeanKl(IModel student, StudentTraining training, ISampleSource data)
    {
        student.Module.eval();
        using var _ = no_grad();
        using var batch = student.Collate(Enumerable.Range(0, data.Count).Select(data.Get).ToArray(), CPU);
        return KnowledgeDistillation.KlDivergence(student.Forward(batch)["logits"], training.TeacherLogits(batch), 4).item<float>();
    }

    [Test]
    public void A_few_distillation_steps_lower_the_kl_to_the_teacher()
    {
        var (context, teacher) = TrainedTeacher();
        var options = new DistillOptions { StudentWidth = 0.125, BatchSize = 8, LearningRate = 1e-2, Alpha = 1 };
        var training = new StudentTraining(context, teacher, options, "test");
        using var student = training.CreateStudent();
        var train = context.Split("train");
        var before = MeanKl(student, training, train);
        training.Distill(student, epochs: 3);    // 9 steps
        var after = MeanKl(student, training, train);
        Assert.That(after, Is.LessThan(before * 0.8), $"KL before {before}, after {after}");
        teacher.Dispose();
    }

    [Test]
    public void T3dnet_replaces_the_model_by_a_tiny_student_without_augmentation_weights_and_saves_it_reloadably()
    {
        var (context, teacher) = TrainedTeacher(trainCount: 16);
        var options = new T3DNetOptions
        {
            StudentWidth = 0.125, AugmentationEpochs = 1, DistillationEpochs = 1, BatchSize = 8, MaxWidthFactor = 2, WidthChoices = 2,
            StudentOverrides = "{\"Dropout\": 0}",
        };
        var outcome = new T3DNetCompressor(options).Run(context);

        Assert.That(context.Teacher, Is.SameAs(teacher));
        var student = (PointNetModel)context.Model!;
        Assert.That(student, Is.Not.SameAs(teacher));
        Assert.That(student.Options.WidthMultiplier, Is.EqualTo(0.125));
        Assert.That(student.Options.Dropout, Is.EqualTo(0));
        Assert.That(student.AugmentationParameters, Is.Empty);
        using var fresh = new PointNetModel(student.Options, teacher.Spec.Dataset);
        Assert.That(outcome.Metrics["studentParams"], Is.EqualTo(fresh.Module.parameters().Sum(p => p.numel())));
        Assert.That(outcome.Metrics["studentParams"], Is.LessThan(outcome.Metrics["teacherParams"] / 3));
        Assert.That(outcome.Metrics.Keys, Is.SupersetOf(new[] { "augmentationLoss", "distillationLoss", "distillation/kl", "augmentation/augmented/classification" }));

        var checkpoint = Path.Combine(context.Services.OutputDirectory, outcome.Files.Single());
        using var reloaded = context.Components.LoadModel(checkpoint);
        student.Module.eval();
        reloaded.Module.eval();
        using var batch = student.Collate(Enumerable.Range(0, 4).Select(context.Split("val").Get).ToArray(), CPU);
        using var _ = no_grad();
        Assert.That(reloaded.Forward(batch)["logits"].allclose(student.Forward(batch)["logits"]), Is.True);
        student.Dispose();
        teacher.Dispose();
    }

    [Test]
    public void T3dnet_on_a_pointnet2_teacher_trains_a_tiny_pointnet2_with_its_augmented_widths()
    {
        var services = RunServices.ForTesting(seed: 0, outputDirectory: TestPaths.NewTempDirectory("t3dnet-pn2"));
        var dataset = new ShapesDataset(new ShapesOptions { Classes = 3, TrainCount = 16, ValCount = 4, TestCount = 4, Points = 32, Augment = false }, services);
        var context = new PipelineContext(services, dataset, new PointNetFactory());
        torch.manual_seed(0);
        var small = new PointNet2SsgOptions { WidthMultiplier = 0.25, NumPoints = 32, Sa1Centroids = 8, Sa1Samples = 4, Sa1Radius = 0.5, Sa2Centroids = 4, Sa2Samples = 4, Sa2Radius = 1 };
        using var teacher = new PointNet2SsgModel(small, dataset.Info);
        context.Model = teacher;
        var outcome = new T3DNetCompressor(new T3DNetOptions { StudentWidth = 0.0625, AugmentationEpochs = 1, DistillationEpochs = 1, BatchSize = 8 }).Run(context);

        using var student = (PointNet2SsgModel)context.Model!;
        Assert.That(context.Teacher, Is.SameAs(teacher));
        Assert.That(student.AugmentationParameters, Is.Empty);
        Assert.That(outcome.Metrics["studentParams"], Is.EqualTo(student.Module.parameters().Sum(p => p.numel())));
        Assert.That(outcome.Metrics["parameterReduction"], Is.GreaterThan(8));
        // Stage 1 trained the augmented network (NetAug's widths 1.8x and 2.6x, in its first half), stage 2 distilled.
        Assert.That(outcome.Metrics["augmentation/augmented/classification"], Is.GreaterThan(0));
        Assert.That(outcome.Metrics["augmentation/widthFactor"], Is.GreaterThan(0));
        Assert.That(outcome.Metrics["distillation/kl"], Is.GreaterThan(0));
    }

    [Test]
    public void The_distillation_loss_is_alpha_t2_kl_plus_one_minus_alpha_times_the_models_own_loss()
    {
        var (context, teacher) = TrainedTeacher(trainCount: 8);
        var training = new StudentTraining(context, teacher, new DistillOptions { StudentWidth = 0.125, Alpha = 0.25, Temperature = 3 }, "test");
        using var student = training.CreateStudent();
        using var batch = student.Collate(Enumerable.Range(0, 8).Select(context.Split("train").Get).ToArray(), CPU);
        using var _ = no_grad();
        var output = student.Forward(batch);
        var teacherLogits = training.TeacherLogits(batch);
        var own = student.Loss(output, batch).Total.item<float>();
        var kl = KnowledgeDistillation.KlDivergence(output["logits"], teacherLogits, 3).item<float>();
        Assert.That(training.DistillationLoss(student, output, batch, teacherLogits).Total.item<float>(), Is.EqualTo(0.25 * 9 * kl + 0.75 * own).Within(1e-5));
        teacher.Dispose();
    }

    [Test]
    public void The_student_trains_without_dropout_unless_asked_and_stage_two_fine_tunes_from_its_own_low_rate()
    {
        var (context, teacher) = TrainedTeacher(trainCount: 16);
        var options = new T3DNetOptions { StudentWidth = 0.125, AugmentationEpochs = 2, DistillationEpochs = 2, BatchSize = 8, DistillationLearningRate = 3e-4 };
        var training = new StudentTraining(context, teacher, options, "test");
        using var student = (PointNetModel)training.CreateStudent();
        Assert.That(student.Options.Dropout, Is.Zero, "StudentDropout defaults to 0 whatever the teacher's");

        var augmentation = training.Augment(student, 2, options, distill: false);
        // 2 epochs of 2 steps, AugmentationFraction 0.5: the first epoch trains an augmented width, the second the tiny model alone.
        Assert.That(augmentation.EpochTerms[0].Keys, Does.Contain("widthFactor"));
        Assert.That(augmentation.EpochTerms[1].Keys, Has.None.StartWith("augmented/").And.None.EqualTo("widthFactor"));

        var fineTune = training.Distill(student, 2, afterAugmentation: true);
        var restart = new StudentTraining(context, teacher, new T3DNetOptions { DistillationStart = DistillationStart.Restart, LearningRate = 2e-3, BatchSize = 8 }, "test")
            .Distill(student, 2, afterAugmentation: true);
        Assert.That(fineTune.EpochLearningRate[0], Is.EqualTo(3e-4).Within(1e-12), "no warm-up: starts at DistillationLearningRate");
        Assert.That(fineTune.EpochLearningRate[1], Is.LessThan(3e-4));
        Assert.That(restart.EpochLearningRate[0], Is.EqualTo(2e-3 / 25).Within(1e-12), "Restart warms up again from LearningRate / 25");
        teacher.Dispose();
    }

    [Test]
    public void Per_layer_sampling_draws_each_layers_width_while_per_step_draws_one_for_all()
    {
        var (context, teacher) = TrainedTeacher(trainCount: 8);
        // One step (8 shapes, batch 8), every step augmented: the logged widthFactor is that step's mean over the layers.
        double LoggedFactor(WidthSampling sampling)
        {
            var options = new T3DNetOptions { StudentWidth = 0.125, BatchSize = 8, AugmentationFraction = 1, WidthSampling = sampling };
            var training = new StudentTraining(context, teacher, options, "test");
            using var student = (PointNetModel)training.CreateStudent();
            return training.Augment(student, 1, options, distill: false).EpochTerms[0]["widthFactor"];
        }
        // NetAug's choices: 1.8 and 2.6. One factor for all layers is one of them; per layer, a mixture of both
        // (all layers drawing the same of two values has probability 2 / 2^layers; the seed fixes the draw).
        Assert.That(new[] { 1.8, 2.6 }, Has.Some.EqualTo(LoggedFactor(WidthSampling.PerStep)).Within(1e-9));
        var perLayer = LoggedFactor(WidthSampling.PerLayer);
        Assert.That(perLayer, Is.GreaterThan(1.8 + 1e-6).And.LessThan(2.6 - 1e-6));
        teacher.Dispose();
    }

    [Test]
    public void The_end_to_end_variant_trains_with_both_augmented_and_distillation_terms()
    {
        var (context, teacher) = TrainedTeacher(trainCount: 8);
        var options = new T3DNetOptions { Stages = "end-to-end", AugmentationEpochs = 1, BatchSize = 8, MaxWidthFactor = 2 };
        var outcome = new T3DNetCompressor(options).Run(context);
        Assert.That(outcome.Metrics.Keys, Is.SupersetOf(new[] { "endToEnd/kl", "endToEnd/augmented/kl", "endToEndSeconds" }));
        Assert.That(outcome.Metrics.Keys, Has.None.StartWith("distillation"));
        context.Model!.Dispose();
        teacher.Dispose();
    }

    [Test]
    public void An_unknown_stage_is_named_with_the_option_and_the_valid_stages()
    {
        var services = RunServices.ForTesting();
        var context = new PipelineContext(services, new ShapesDataset(new ShapesOptions { TrainCount = 4 }, services), new PointNetFactory());
        var e = Assert.Throws<ArgumentException>(() => new T3DNetCompressor(new T3DNetOptions { Stages = "augmentation,pruning" }).Run(context));
        Assert.That(e!.Message, Does.Contain("Stages").And.Contain("end-to-end"));
    }
}
