using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Platform.Plugins.Distill.T3DNet;

/// <summary>Options every student-training compressor shares: which student, how to train it, how to distill.</summary>
public class StudentOptions
{
    [Description("Width multiplier of the student, set on the teacher's own options (the teacher's model component builds it).")]
    [Range(0.001, 8.0)]
    public double StudentWidth { get; set; } = 0.125;

    [Description("Further student options as a JSON object merged over the teacher's, e.g. {\"FeatureTransform\": false}.")]
    public string StudentOverrides { get; set; } = "";

    [Description("Samples per optimiser step.")]
    [Range(1, 4096)]
    public int BatchSize { get; set; } = 16;

    [Description("Peak learning rate of AdamW (one-cycle schedule).")]
    [Range(1e-8, 10.0)]
    public double LearningRate { get; set; } = 2e-3;

    [Description("Decoupled weight decay of AdamW.")]
    [Range(0.0, 1.0)]
    public double WeightDecay { get; set; } = 1e-4;

    [Description("Split to train the student on.")]
    public string Split { get; set; } = "train";

    [Description("Use at most this many training samples (0: all).")]
    [Range(0, int.MaxValue)]
    public int MaxSamples { get; set; }

    [Description("Softmax temperature T of distillation.")]
    [Range(0.01, 100.0)]
    public double Temperature { get; set; } = 4;

    [Description("Weight of the distillation term T^2 KL(p_teacher || p_student).")]
    [Range(0.0, 1000.0)]
    public double DistillationWeight { get; set; } = 1;

    [Description("Weight of the ground-truth term (the student model's own training loss).")]
    [Range(0.0, 1000.0)]
    public double GroundTruthWeight { get; set; } = 1;
}

public sealed class DistillOptions : StudentOptions
{
    [Description("Epochs of distillation.")]
    [Range(0, 100000)]
    public int Epochs { get; set; } = 20;
}

public sealed class T3DNetOptions : StudentOptions
{
    [Description("Stages to run, in order: 'augmentation,distillation' (T3DNet), 'augmentation' (network augmentation only), 'distillation' (plain KD) or 'end-to-end' (augmentation and distillation in one stage).")]
    public string Stages { get; set; } = "augmentation,distillation";

    [Description("Epochs of stage 1, network augmentation (also the epochs of the end-to-end stage).")]
    [Range(0, 100000)]
    public int AugmentationEpochs { get; set; } = 20;

    [Description("Epochs of stage 2, distillation.")]
    [Range(0, 100000)]
    public int DistillationEpochs { get; set; } = 20;

    [Description("Widest augmented model, as a multiple of the student's width.")]
    [Range(1.0, 64.0)]
    public double MaxWidthFactor { get; set; } = 4;

    [Description("Augmented widths sampled from, evenly spaced in (1, MaxWidthFactor]: one is drawn per step.")]
    [Range(1, 64)]
    public int WidthChoices { get; set; } = 3;

    [Description("Weight alpha of the augmented model's loss: loss = tiny loss + alpha * augmented loss (NetAug Eq. 2).")]
    [Range(0.0, 1000.0)]
    public double AugmentationWeight { get; set; } = 1;
}
