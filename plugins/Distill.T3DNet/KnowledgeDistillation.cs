using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Distill.T3DNet;

/// <summary>
/// Knowledge distillation (Hinton et al., 2015; T3DNet Sec. 3.3): the student matches the teacher's
/// temperature-softened class distribution. KL(p_T || p_S) with p = softmax(z / T), averaged over the batch and
/// scaled by T^2 so its gradients keep their size as T changes.
/// </summary>
public static class KnowledgeDistillation
{
    /// <summary>KL(softmax(teacher/T) || softmax(student/T)) per batch element, averaged; zero when the logits are equal.</summary>
    public static Tensor KlDivergence(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        var logStudent = (studentLogits / temperature).log_softmax(-1);
        var logTeacher = (teacherLogits.detach() / temperature).log_softmax(-1);
        return (logTeacher.exp() * (logTeacher - logStudent)).sum(-1).mean();
    }

    /// <summary>The output that holds the class logits: the model's first distortion output in the Logits group.</summary>
    public static string LogitsOutput(IModel model) =>
        model.DistortionOutputs.FirstOrDefault(o => o.Group == DistortionGroup.Logits)?.Name
        ?? throw new InvalidOperationException($"Model '{model.Spec.Use}' declares no logits output; distillation needs a classifier.");
}
