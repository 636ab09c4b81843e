using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Distill.T3DNet;

/// <summary>
/// Options every student-training compressor shares: which student, how to distill, and the training loop's own
/// options (batch, AdamW, clipping, split), with a student's defaults: larger batches, lighter weight decay.
/// </summary>
public class StudentOptions : TrainingLoopOptions
{
    public StudentOptions()
    {
        BatchSize = 16;
        WeightDecay = 1e-4;
    }

    [Description("Width multiplier of the student, set on the teacher's own options (the teacher's model component builds it).")]
    [Range(0.001, 8.0)]
    public double StudentWidth { get; set; } = 0.125;

    [Description("Further student options as a JSON object merged over the teacher's, e.g. {\"FeatureTransform\": false}.")]
    public string StudentOverrides { get; set; } = "";

    [Description("Softmax temperature T of distillation.")]
    [Range(0.01, 100.0)]
    public double Temperature { get; set; } = 4;

    // Hinton et al. 2015's form; T3DNet's code used CE + T²·KL with both weights 1 (KL weighted x16 at T = 4), untuned (issue 14).
    [Description("Distillation loss alpha·T²·KL(p_teacher || p_student) + (1 - alpha)·(the student model's own loss): alpha in [0, 1].")]
    [Range(0.0, 1.0)]
    public double Alpha { get; set; } = 0.5;

    // NetAug's premise is that tiny models under-fit; it trains them with dropout 0 (the teacher's 0.3-0.4 was inherited).
    [Description("Dropout of the student, where the model has a Dropout option (StudentOverrides can still set it).")]
    [Range(0.0, 1.0)]
    public double StudentDropout { get; set; }
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

    // A fresh one-cycle schedule warmed stage 2 up to the full peak again and partly undid stage 1 (issue 14). But for a
    // student that under-fits (width 0.0625 on Set Families), Restart beat FineTune from 5e-4 and from 2e-3 on val
    // (bench/results/t3dnet-select.md): there stage 2 still has to train, not only to polish.
    [Description("Stage 2 after stage 1: FineTune (cosine decay from DistillationLearningRate, no warm-up) or Restart (a new one-cycle schedule at LearningRate, as if from scratch).")]
    public DistillationStart DistillationStart { get; set; } = DistillationStart.FineTune;

    [Description("Stage 2 with DistillationStart=FineTune: the learning rate it starts from (no warm-up).")]
    [Range(1e-8, 10.0)]
    public double DistillationLearningRate { get; set; } = 5e-4;

    // NetAug (Cai et al. 2022): width factors [1.0, 1.8, 2.6]; the augmented branch is one of 1.8 and 2.6.
    [Description("Widest augmented model, as a multiple of the student's width.")]
    [Range(1.0, 64.0)]
    public double MaxWidthFactor { get; set; } = 2.6;

    [Description("Augmented widths sampled from, evenly spaced in (1, MaxWidthFactor]: drawn per step or per layer (WidthSampling).")]
    [Range(1, 64)]
    public int WidthChoices { get; set; } = 2;

    // NetAug samples each layer's width on its own; one factor for the whole network was this plugin's first form
    // and stays the default, so that the committed T3DNet results rerun as they were made.
    [Description("How the augmented width is drawn at each step: PerStep (one factor for every layer) or PerLayer (each layer its own, as NetAug does).")]
    public WidthSampling WidthSampling { get; set; } = WidthSampling.PerStep;

    // NetAug stops width augmentation for the last half of training: the tiny model then trains alone.
    [Description("Fraction of stage 1's steps that train with an augmented width; the rest train the tiny model alone.")]
    [Range(0.0, 1.0)]
    public double AugmentationFraction { get; set; } = 0.5;

    [Description("Weight alpha of the augmented model's loss: loss = tiny loss + alpha * augmented loss (NetAug Eq. 2).")]
    [Range(0.0, 1000.0)]
    public double AugmentationWeight { get; set; } = 1;
}

public enum DistillationStart
{
    /// <summary>Cosine decay from DistillationLearningRate without warm-up: stage 2 fine-tunes what stage 1 trained.</summary>
    FineTune,

    /// <summary>A new one-cycle schedule at LearningRate (the behaviour before issue 14).</summary>
    Restart,
}

public enum WidthSampling
{
    /// <summary>One width factor per step for every augmented layer: the augmented network is a uniformly wider one.</summary>
    PerStep,

    /// <summary>Each augmented layer draws its own factor per step (NetAug), so the wide network's shape varies too.</summary>
    PerLayer,
}
