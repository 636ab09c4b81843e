using System.Text.Json.Nodes;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Distill.T3DNet;

/// <summary>Builds a student from the teacher's spec and trains it, stage by stage, on the kit's training loop.</summary>
public sealed class StudentTraining(PipelineContext context, IModel teacher, StudentOptions options, string stepName)
{
    public IModel Teacher => teacher;

    /// <summary>The teacher's component with the teacher's options, the student width and the overrides.</summary>
    public IModel CreateStudent()
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(string.IsNullOrWhiteSpace(teacher.Spec.OptionsJson) ? "{}" : teacher.Spec.OptionsJson) as JsonObject ?? [];
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidOperationException($"Step '{stepName}': the teacher's options are not a JSON object ({e.Message}).", e);
        }
        if (!json.ContainsKey("WidthMultiplier"))
            throw new InvalidOperationException($"Step '{stepName}': model '{teacher.Spec.Use}' has no WidthMultiplier option, so a narrower student cannot be built from it.");
        json["WidthMultiplier"] = options.StudentWidth;
        if (json.ContainsKey("Dropout")) json["Dropout"] = options.StudentDropout;
        if (!string.IsNullOrWhiteSpace(options.StudentOverrides))
        {
            JsonObject overrides;
            try
            {
                overrides = JsonNode.Parse(options.StudentOverrides) as JsonObject
                            ?? throw new InvalidOperationException($"Step '{stepName}' option StudentOverrides must be a JSON object.");
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new InvalidOperationException($"Step '{stepName}' option StudentOverrides is not valid JSON: {e.Message}", e);
            }
            foreach (var (key, value) in overrides) json[key] = value?.DeepClone();
        }
        Seeding.Seed(Abstractions.Kit.StableHash.Combine(context.Seed, StableHash.Of("student")));
        var student = context.Components.CreateModel(teacher.Spec.Use, json.ToJsonString(), teacher.Spec.Dataset);
        student.Module.to(context.Services.Device);
        return student;
    }

    /// <param name="fineTuneRate">Not null: a cosine schedule from this rate without warm-up, instead of one-cycle at LearningRate.</param>
    private TrainOptions Train(int epochs, double? fineTuneRate = null) =>
        new(options, epochs, fineTuneRate is null ? LearningRateSchedule.OneCycle : LearningRateSchedule.Cosine)
        {
            LearningRate = fineTuneRate ?? options.LearningRate,
        };

    /// <summary>Distillation objective on one output: alpha * T^2 KL + (1 - alpha) * the model's own loss.</summary>
    public LossTerms DistillationLoss(IModel student, ModelOutput output, ModelBatch batch, Tensor teacherLogits, string prefix = "")
    {
        var groundTruth = student.Loss(output, batch);
        var kl = KnowledgeDistillation.KlDivergence(output[KnowledgeDistillation.LogitsOutput(student)], teacherLogits, options.Temperature);
        var total = groundTruth.Total * (1 - options.Alpha) + kl * (options.Alpha * options.Temperature * options.Temperature);
        var terms = groundTruth.Terms.ToDictionary(kv => prefix + kv.Key, kv => kv.Value);
        terms[prefix + "kl"] = kl.item<float>();
        return new LossTerms(total, terms);
    }

    /// <summary>The teacher's logits on the student's batch (the teacher collates the same samples its own way).</summary>
    public Tensor TeacherLogits(ModelBatch batch)
    {
        using var _ = no_grad();
        teacher.Module.eval();
        using var teacherBatch = teacher.Collate(batch.Samples, context.Services.Device);
        return teacher.Forward(teacherBatch)[KnowledgeDistillation.LogitsOutput(teacher)].detach().clone();
    }

    /// <summary>
    /// Knowledge distillation of the student: plain KD, or T3DNet's stage 2 with <paramref name="afterAugmentation"/>,
    /// which fine-tunes (T3DNetOptions.DistillationStart) instead of restarting the schedule.
    /// </summary>
    public TrainHistory Distill(IModel student, int epochs, bool afterAugmentation = false) =>
        new Trainer(context.Services).Fit(student, context.Split(options.Split),
            Train(epochs, afterAugmentation && options is T3DNetOptions { DistillationStart: DistillationStart.FineTune } t3d ? t3d.DistillationLearningRate : null),
            lossOverride: (m, b) => DistillationLoss(m, m.Forward(b), b, TeacherLogits(b)),
            description: $"{stepName}: distillation");

    /// <summary>
    /// Network augmentation (T3DNet stage 1; NetAug Eq. 2): each step trains the tiny model and one augmented network,
    /// its widths drawn from T3DNetOptions.WidthChoices for all layers at once or per layer (T3DNetOptions.WidthSampling),
    /// on the same batch: loss = L(tiny) + alpha L(augmented). With
    /// <paramref name="distill"/> both terms are distillation losses (the end-to-end variant).
    /// </summary>
    public TrainHistory Augment(IWidthAugmentable student, int epochs, T3DNetOptions t3d, bool distill)
    {
        var widths = Enumerable.Range(1, t3d.WidthChoices).Select(k => 1 + (t3d.MaxWidthFactor - 1) * k / t3d.WidthChoices).ToArray();
        var random = Seeding.Random(context.Seed, "network-augmentation-width");
        var train = context.Split(options.Split);
        var schedule = Train(epochs);
        var augmentedSteps = (long)Math.Ceiling(t3d.AugmentationFraction * epochs * schedule.StepsPerEpoch(train));
        long calls = 0;
        student.EnableAugmentation(t3d.MaxWidthFactor);
        try
        {
            return new Trainer(context.Services).Fit(student, train, schedule,
                lossOverride: (m, b) =>
                {
                    // Past AugmentationFraction of the steps the tiny model trains alone (NetAug).
                    if (++calls > augmentedSteps)
                        return distill ? DistillationLoss(m, m.Forward(b), b, TeacherLogits(b)) : m.Loss(m.Forward(b), b);
                    var a = (IWidthAugmentable)m;
                    var factors = t3d.WidthSampling == WidthSampling.PerLayer
                        ? Enumerable.Range(0, a.AugmentedLayerCount).Select(_ => widths[random.Next(widths.Length)]).ToArray()
                        : Enumerable.Repeat(widths[random.Next(widths.Length)], a.AugmentedLayerCount).ToArray();
                    LossTerms tiny, wide;
                    if (distill)
                    {
                        var teacherLogits = TeacherLogits(b);
                        tiny = DistillationLoss(m, m.Forward(b), b, teacherLogits);
                        wide = DistillationLoss(m, a.ForwardAugmented(b, factors), b, teacherLogits, "augmented/");
                    }
                    else
                    {
                        tiny = m.Loss(m.Forward(b), b);
                        var augmented = m.Loss(a.ForwardAugmented(b, factors), b);
                        wide = new LossTerms(augmented.Total, augmented.Terms.ToDictionary(kv => "augmented/" + kv.Key, kv => kv.Value));
                    }
                    var terms = new Dictionary<string, double>(tiny.Terms);
                    foreach (var (k, v) in wide.Terms) terms[k] = v;
                    terms["widthFactor"] = factors.Average();
                    return new LossTerms(tiny.Total + wide.Total * t3d.AugmentationWeight, terms);
                },
                extraParameters: student.AugmentationParameters,
                description: distill ? $"{stepName}: augmentation + distillation" : $"{stepName}: network augmentation");
        }
        finally
        {
            // The output is the tiny model alone: the augmentation weights are training-time scaffolding.
            student.DisableAugmentation();
        }
    }

    /// <summary>Replaces the context's model by the student (keeping the teacher), saves it and reports sizes.</summary>
    public void Finish(IModel student, StepOutcome outcome)
    {
        var teacherStats = ModelStats.Measure(teacher);
        var studentStats = ModelStats.Measure(student);
        outcome.Metrics["teacherParams"] = teacherStats.Params;
        outcome.Metrics["teacherFlops"] = teacherStats.Flops;
        outcome.Metrics["studentParams"] = studentStats.Params;
        outcome.Metrics["studentFlops"] = studentStats.Flops;
        outcome.Metrics["parameterReduction"] = (double)teacherStats.Params / studentStats.Params;
        outcome.Metrics["flopsReduction"] = teacherStats.Flops / studentStats.Flops;
        // The student alone (its augmentation weights are gone), reloadable with the host's 'load' step.
        var path = Path.Combine(context.StepDirectory("student"), "student.ckpt");
        Checkpoint.Save(student, path, outcome.Metrics);
        outcome.Files.Add(Path.GetRelativePath(context.Services.OutputDirectory, path));
        outcome.Tables.Add(new ReportTable("Teacher and student", ["model", "width", "parameters", "FLOPs per sample (MACs)"],
        [
            ["teacher", Width(teacher), teacherStats.Params.ToString("N0"), teacherStats.Flops.ToString("N0")],
            ["student", Width(student), studentStats.Params.ToString("N0"), studentStats.Flops.ToString("N0")],
        ]));
        context.Teacher = teacher;
        context.Model = student;
    }

    private static string Width(IModel model) =>
        JsonNode.Parse(model.Spec.OptionsJson)?["WidthMultiplier"]?.ToString() ?? "?";

    public static void Record(StepOutcome outcome, string stage, TrainHistory history)
    {
        outcome.Metrics[$"{stage}Seconds"] = history.Seconds;
        if (history.EpochLoss.Count == 0) return;
        outcome.Metrics[$"{stage}Loss"] = history.EpochLoss[^1];
        foreach (var (k, v) in history.EpochTerms[^1]) outcome.Metrics[$"{stage}/{k}"] = v;
        outcome.Series[$"{stage} loss"] = new Series("epoch", "loss", Enumerable.Range(1, history.EpochLoss.Count).Select(e => (double)e).ToArray(), history.EpochLoss);
    }
}
