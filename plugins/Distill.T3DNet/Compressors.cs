using Platform.Abstractions.Components;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Distill.T3DNet;

/// <summary>
/// T3DNet (arXiv 2402.19264): a tiny student, built from the teacher's own component at a small width, trained
/// first by network augmentation (stage 1) and then by distillation from the pipeline's model (stage 2), or by
/// both at once (end-to-end). Afterwards the student is the pipeline's model and the old model its teacher.
/// </summary>
public sealed class T3DNetCompressor(T3DNetOptions options) : ICompressor
{
    public StepOutcome Run(PipelineContext context)
    {
        var stages = options.Stages.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.ToLowerInvariant()).ToArray();
        var known = new[] { "augmentation", "distillation", "end-to-end" };
        var unknown = stages.FirstOrDefault(s => !known.Contains(s));
        if (stages.Length == 0 || unknown is not null)
            throw new ArgumentException($"Step 't3dnet' option Stages is '{options.Stages}'; use a comma-separated list of {string.Join(", ", known)}.");

        var teacher = context.RequireModel("t3dnet");
        var training = new StudentTraining(context, teacher, options, "t3dnet");
        var student = training.CreateStudent();
        var outcome = new StepOutcome();
        try
        {
            foreach (var stage in stages)
            {
                switch (stage)
                {
                    case "augmentation":
                    case "end-to-end":
                        if (student is not IWidthAugmentable augmentable)
                            throw new InvalidOperationException($"Step 't3dnet' stage '{stage}': model '{student.Spec.Use}' does not support network augmentation (IWidthAugmentable).");
                        StudentTraining.Record(outcome, stage == "augmentation" ? "augmentation" : "endToEnd",
                            training.Augment(augmentable, options.AugmentationEpochs, options, distill: stage == "end-to-end"));
                        break;
                    default:
                        StudentTraining.Record(outcome, "distillation", training.Distill(student, options.DistillationEpochs,
                            afterAugmentation: stages.TakeWhile(s => s != "distillation").Contains("augmentation")));
                        break;
                }
            }
        }
        catch
        {
            student.Dispose();
            throw;
        }
        outcome.Notes.Add($"T3DNet stages: {string.Join(" -> ", stages)}; student width {options.StudentWidth} (dropout {options.StudentDropout}), augmented widths up to {options.MaxWidthFactor}x drawn {(options.WidthSampling == WidthSampling.PerLayer ? "per layer" : "per step")} " +
                          $"for {options.AugmentationFraction:P0} of stage 1's steps; stage 2 {(options.DistillationStart == DistillationStart.FineTune ? $"fine-tunes from {options.DistillationLearningRate}" : "restarts the schedule")}; KD alpha {options.Alpha}, T {options.Temperature}.");
        training.Finish(student, outcome);
        return outcome;
    }
}

/// <summary>Plain knowledge distillation of a narrower student from the pipeline's model (the baseline T3DNet is compared with).</summary>
public sealed class DistillCompressor(DistillOptions options) : ICompressor
{
    public StepOutcome Run(PipelineContext context)
    {
        var teacher = context.RequireModel("distill");
        var training = new StudentTraining(context, teacher, options, "distill");
        var student = training.CreateStudent();
        var outcome = new StepOutcome();
        try
        {
            StudentTraining.Record(outcome, "distillation", training.Distill(student, options.Epochs));
        }
        catch
        {
            student.Dispose();
            throw;
        }
        training.Finish(student, outcome);
        return outcome;
    }
}

public sealed class T3DNetPlugin : Autofac.Module
{
    protected override void Load(Autofac.ContainerBuilder builder)
    {
        builder.RegisterCompressor<T3DNetCompressor, T3DNetOptions>("t3dnet", "T3DNet: a tiny student by network augmentation then distillation from the current model (stages configurable, end-to-end option).");
        builder.RegisterCompressor<DistillCompressor, DistillOptions>("distill", "Plain knowledge distillation of a narrower student from the current model.");
    }
}
