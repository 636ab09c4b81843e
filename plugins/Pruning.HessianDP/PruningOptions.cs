using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>What a FLOPs budget counts.</summary>
public enum BudgetScope
{
    /// <summary>ModelStats.Flops: the prunable layers plus OtherFlopsPerSample (norms, pooling, scatter), which no pruning removes.</summary>
    WholeModel,

    /// <summary>Only the conv/linear weights a compressor may prune (the ratio the DM3D research code reports).</summary>
    PrunableLayers,
}

/// <summary>Where a layer's FLOPs per weight are counted.</summary>
public enum CostBasis
{
    /// <summary>At the calibration samples' mean input, for models whose cost depends on it (IDescribesInput.CostsAt: the pillar net per non-empty pillar); else at capacity.</summary>
    CalibrationInput,

    /// <summary>At the model's configured capacity (IModel.PrunableLayers' FlopsPerWeight, e.g. MaxPillars).</summary>
    Capacity,
}

/// <summary>Options every compressor of this plugin shares, weight or channel pruning: the FLOPs target, where costs are counted, and the calibration data the output distortion is measured on.</summary>
public class PruningBudgetOptions
{
    [Description("Target FLOPs reduction: dense FLOPs divided by pruned FLOPs (4.0 keeps a quarter). Used when RemainingFlops is 0.")]
    [Range(1.0, 1e9)]
    public double FlopsReduction { get; set; } = 4.0;

    [Description("After pruning, re-estimate batch-norm running statistics on the calibration samples (no learned parameter changes); not after Reconstruct, which restores the outputs the statistics describe.")]
    public bool RecalibrateBatchNorm { get; set; } = true;

    // Capacity counted the kitti-small pillar net at 8000 pillars where the frames have ~2090: 3.8x too dear to keep (issue 10 §2).
    [Description("Where FLOPs are counted for the budget: CalibrationInput (input-dependent layers at the calibration samples' mean input, when the model reports such costs and CalibrationSamples > 0) or Capacity (the model's configured maximum). Both counts are reported.")]
    public CostBasis Costs { get; set; } = CostBasis.CalibrationInput;

    [Description("After pruning, refit by least squares on the calibration samples, in forward order, each on the already-pruned network's inputs to the dense layer's outputs: weight pruning refits each pruned layer's surviving weights; channel pruning each layer that reads removed channels.")]
    public bool Reconstruct { get; set; }

    // Chosen on val (bench/results/hessiandp-damping.md, 2x): 0.01 cost hessian-dp 7.00 points, 1e-4 2.58; lamp 9.52 and 1.41.
    [Description("Reconstruction: λ of the damped Gram matrix XᵀX + λI, as a fraction of its mean diagonal. Larger values shrink the refitted weights, which the batch-norm statistics after the layer do not follow.")]
    [Range(0.0, 1e6)]
    public double ReconstructionDamping { get; set; } = 1e-4;

    // The BEV maps of a detector are mostly empty background, and every cell is a row of the least-squares fit: unweighted,
    // the refit spends its freedom on reproducing background (issue 10: the allocation's distortion was reweighted the same way).
    // On CenterPoint val (bench/results/hessiandp-peaks5-variants.md) 100 took hessian-dp 4x from -8.47 to -6.05 and left 2x
    // as it was; with ReconstructionSelection ObsSequential on top, -4.93 and -0.04. pipelines/default.json uses both. The
    // default stays 1 so that every committed table still reproduces.
    [Description("Reconstruction: weight of the rows at cells where the dense model sees an object (its sigmoid confidence map above ForegroundThreshold, taken to each layer's grid); other rows weigh 1. Needs a confidence output of shape [B, K, H, W]; layers whose rows are not map cells keep weight 1. 1: every row alike.")]
    [Range(1.0, 1e6)]
    public double ReconstructionForegroundWeight { get; set; } = 1;

    [Description("Split the calibration samples come from (the first CalibrationSamples of it).")]
    public string CalibrationSplit { get; set; } = "train";

    [Description("Calibration samples: the Hessian estimate for hessian-dp, the measured curves of hessian-dp and channel-dp, and the measured output distortion after pruning for every method (0: baselines skip the measurement).")]
    [Range(0, 100000)]
    public int CalibrationSamples { get; set; } = 16;

    [Description("Calibration samples per forward/backward pass.")]
    [Range(1, 1024)]
    public int CalibrationBatchSize { get; set; } = 4;

    // Issue 10 §1: "cache each layer's input so only the rest of the network runs". The values are the same either way
    // (tested); false is for timing the difference (bench/hessiandp-timing.yaml).
    [Description("Measured curves start each layer's passes at the cached input of the stage that reads it, where the model runs in stages (IStagedForward; centerpoint does): the same values, fewer passes through the early layers. false runs the whole network for every measurement.")]
    public bool CurveStages { get; set; } = true;

    [Description("How the output distortion compares outputs: Raw (mean squared difference of every element) or DetectionAware (confidence logits in sigmoid space with foreground cells weighted by ForegroundWeight; locality outputs only at the dense model's peak cells).")]
    public DistortionKind Distortion { get; set; } = DistortionKind.Raw;

    [Description("DetectionAware: a cell is foreground, and may hold a peak, where the dense model's sigmoid score exceeds this.")]
    [Range(0.0, 1.0)]
    public double ForegroundThreshold { get; set; } = 0.1;

    [Description("DetectionAware: weight of a foreground heatmap cell (background cells weigh 1).")]
    [Range(0.0, 1e6)]
    public double ForegroundWeight { get; set; } = 10;

    [Description("DetectionAware: the highest local maxima kept per sample and class; locality outputs are compared at these cells. Fewer keep weak peaks that are no object from outweighing the objects: on CenterPoint kitti-small 5 was best on val (bench/results/hessiandp-peaks-select.md) and pipelines/default.json uses it.")]
    [Range(1, 100000)]
    public int PeaksPerClass { get; set; } = 50;

    [Description("Weight of the confidence outputs (class heatmaps, scores) in the output distortion.")]
    [Range(0.0, 1e6)]
    public double ConfidenceWeight { get; set; } = 1.0;

    [Description("Weight of the locality outputs (box regression) in the output distortion.")]
    [Range(0.0, 1e6)]
    public double LocalityWeight { get; set; } = 1.0;

    [Description("Weight of classifier logits in the output distortion.")]
    [Range(0.0, 1e6)]
    public double LogitsWeight { get; set; } = 1.0;
}

/// <summary>Options every weight-pruning compressor of this plugin shares: the budget, the per-layer limits, and reconstruction.</summary>
public class PruningOptions : PruningBudgetOptions
{
    [Description("Target FLOPs (multiply-accumulates per sample) to keep, counted in BudgetScope; 0 means use FlopsReduction.")]
    [Range(0.0, double.MaxValue)]
    public double RemainingFlops { get; set; }

    [Description("What the budget counts: WholeModel (ModelStats.Flops, including the unprunable OtherFlopsPerSample) or PrunableLayers (only the prunable conv/linear weights). Both ratios are reported either way.")]
    public BudgetScope BudgetScope { get; set; } = BudgetScope.WholeModel;

    [Description("Largest fraction of one layer's weights that may be removed.")]
    [Range(0.0, 1.0)]
    public double MaxSparsity { get; set; } = 0.98;

    [Description("Layers kept dense: comma-separated layer-name patterns, '*' matches any run of characters (e.g. 'head.*,backbone.0').")]
    public string KeepDense { get; set; } = "";

    [Description("Reconstruction: which weights of a layer it keeps: CompressorMasks (the compressor's choice), ObsSaliency (the compressor's count per layer, the weights with the lowest w²/[H⁻¹]ᵢᵢ removed, H the layer's damped input Gram matrix: Optimal Brain Surgeon's saliency) or ObsSequential (the same count, chosen column block by column block with OBS updates between removals: SparseGPT).")]
    public ReconstructionSelection ReconstructionSelection { get; set; } = ReconstructionSelection.CompressorMasks;
}

/// <summary>Which weights a reconstructed layer keeps.</summary>
public enum ReconstructionSelection
{
    /// <summary>Those the compressor kept: reconstruction only refits them (allocation and refit stay separable).</summary>
    CompressorMasks,

    /// <summary>
    /// As many as the compressor kept in the layer, chosen by Optimal Brain Surgeon's saliency w²/[H⁻¹]ᵢᵢ on the layer's
    /// calibration inputs (H = XᵀX + λI), which accounts for correlated inputs that magnitude ignores; then refit.
    /// </summary>
    ObsSaliency,

    /// <summary>
    /// As many as the compressor kept in the layer, chosen column by column with Optimal Brain Surgeon updates (SparseGPT,
    /// Frantar &amp; Alistarh 2023): each removal's error is pushed onto the columns not yet visited, so the weights that
    /// compensate for a removed one are never removed with it (one-shot ObsSaliency's failure at high sparsity); then refit.
    /// </summary>
    ObsSequential,
}

/// <summary>How the second-order term of the output distortion is estimated (dm3d-method.md lists all three).</summary>
public enum DistortionEstimator
{
    /// <summary>diag(JᵀJ) of the outputs from random Rademacher output projections: E[(Jᵀv)²] = diag(JᵀJ) (DM3D's lightweight Hessian, issue 5 §2).</summary>
    GaussNewtonDiagonal,

    /// <summary>Σ (δw·g)² with g the gradient of the output energy, as in the DM3D research code.</summary>
    FirstOrderSquared,

    /// <summary>½ δwᵀ(ggᵀ + λI)δw: a rank-one Fisher-style Hessian, never materialised (DM3D research code).</summary>
    RankOneFisher,
}

/// <summary>Which weights of a layer go first.</summary>
public enum WithinLayerRanking
{
    /// <summary>w²·H_ii: the predicted distortion each weight's removal adds (Optimal Brain Damage saliency).</summary>
    HessianSaliency,

    /// <summary>|w|.</summary>
    Magnitude,

    /// <summary>|w·g|: first-order saliency.</summary>
    WeightGradient,
}

/// <summary>How per-layer sparsities are chosen from the distortion curves.</summary>
public enum AllocationSolver
{
    /// <summary>Exact minimisation of the summed distortion over a discretised FLOPs budget (DM3D; ICCV 2023 §3.3).</summary>
    DynamicProgramming,

    /// <summary>Each layer minimises D_l(p) + λ·FLOPs_l(p); λ by bisection to meet the budget (DM3D research code).</summary>
    Lagrangian,
}

/// <summary>Which weights measured curves remove first.</summary>
public enum MeasuredOrder
{
    /// <summary>Smallest |w| first.</summary>
    Magnitude,

    /// <summary>Lowest score of the Ranking option first (w²·H by default), from the Estimator's estimate.</summary>
    Ranking,
}

/// <summary>Where the per-layer distortion curves the allocation reads come from.</summary>
public enum CurveSource
{
    /// <summary>Each layer pruned alone (magnitude order) at CurveLevels sparsities, the calibration set run for real (ICCV 2023 §3.1; issue 10 §1).</summary>
    Measured,

    /// <summary>The Estimator's second-order prediction along the Ranking order (DM3D).</summary>
    Predicted,
}

public sealed class HessianDPOptions : PruningOptions
{
    // Measured: the Gauss-Newton prediction read 0.01 where the real single-layer distortion was 0.29 at 98% (issue 10 §2).
    [Description("Per-layer distortion curves: Measured (each layer pruned alone by magnitude at CurveLevels sparsities, output distortion measured on the calibration set) or Predicted (the Estimator's second-order estimate, ranked by Ranking).")]
    public CurveSource Curves { get; set; } = CurveSource.Measured;

    // On PointNet the removal order mattered more than the curves: predicted curves along w²·H beat measured ones along |w| at every budget (bench/results/hessiandp-pointnet.md).
    [Description("Measured curves: the order in which a layer's weights are removed, for the curves and the final masks: Magnitude (|w|) or Ranking (the Ranking option's scores, from the Estimator's second-order estimate on the calibration set).")]
    public MeasuredOrder MeasuredOrder { get; set; } = MeasuredOrder.Magnitude;

    [Description("Measured curves: sparsities measured per layer (one calibration pass each), at 1-(1-d/CurveLevels)^1.5 of MaxSparsity: denser towards MaxSparsity, where distortion climbs fastest.")]
    [Range(1, 1000)]
    public int CurveLevels { get; set; } = 12;

    // With Reconstruct, the DP otherwise allocates on distortions that reconstruction then changes unevenly across layers.
    [Description("Measured curves: at each level, refit the layer's surviving weights by least squares (ReconstructionDamping, rows weighted by ReconstructionForegroundWeight as in the final refit) before measuring, so the allocation reads the distortion left after reconstruction. Meant with Reconstruct=true; about one extra solve per output row and level.")]
    public bool CurveReconstruction { get; set; }

    // Bench rows that differ only in the budget measure the same curves (issue 10 §1).
    [Description("Measured curves: a folder where they are kept, keyed by SHA-256 of the model's parameters and buffers, the calibration inputs, the distortion settings and the levels; a matching file is reused (metric curvesCached = 1), a file that does not match is ignored with a warning. Empty: no cache.")]
    public string CurveCache { get; set; } = "";

    // Single-layer curves add up to far less than the joint distortion at 8x (issue 10: the DP then pruned the heatmap head
    // to the cap); curves measured around the plan see what each layer adds on top of the others.
    [Description("Measured curves: allocation rounds. Round 1 allocates on single-layer curves; each further round measures every layer's curve again with the other layers pruned as the previous round's plan (the distortion the layer adds on top of theirs), and allocates again. The plan with the lowest measured joint distortion on the calibration set is kept. Each further round costs about one uncached curve measurement.")]
    [Range(1, 20)]
    public int PlanRounds { get; set; } = 1;

    [Description("How the second-order distortion is estimated: GaussNewtonDiagonal, FirstOrderSquared or RankOneFisher.")]
    public DistortionEstimator Estimator { get; set; } = DistortionEstimator.GaussNewtonDiagonal;

    // w²·H measured best on the PointNet benchmark (bench/results/hessiandp-pointnet.md, rows hessian-dp vs hessian-dp-mag).
    [Description("Predicted curves (and measured ones with MeasuredOrder=Ranking): which weights of a layer are removed first: HessianSaliency (w²·H), Magnitude (|w|) or WeightGradient (|w·g|).")]
    public WithinLayerRanking Ranking { get; set; } = WithinLayerRanking.HessianSaliency;

    [Description("How sparsities are allocated across layers: DynamicProgramming (exact on the discretised budget) or Lagrangian.")]
    public AllocationSolver Solver { get; set; } = AllocationSolver.DynamicProgramming;

    [Description("Predicted curves: sparsity grid: each layer chooses among sparsities d/SparsityLevels, d = 0..SparsityLevels (capped at MaxSparsity).")]
    [Range(1, 1000)]
    public int SparsityLevels { get; set; } = 100;

    [Description("The dynamic programme discretises the FLOPs budget into this many units (layer costs are rounded up, so the plan never exceeds the budget).")]
    [Range(10, 1000000)]
    public int BudgetSteps { get; set; } = 2000;

    [Description("Random output projections (backward passes) per calibration batch for the Gauss-Newton diagonal; each covers every sample of the batch.")]
    [Range(1, 10000)]
    public int Projections { get; set; } = 4;

    [Description("λ of the rank-one Fisher Hessian ggᵀ + λI.")]
    [Range(0.0, 1e6)]
    public double FisherDamping { get; set; } = 1e-7;

    [Description("Predicted curves: honesty check: this many layers are pruned alone at HonestyLevels sparsities, and the real distortion is compared with the prediction (0: skip).")]
    [Range(0, 1000)]
    public int HonestyLayers { get; set; } = 3;

    [Description("Sparsities per honesty-check layer (evenly spaced up to MaxSparsity).")]
    [Range(1, 100)]
    public int HonestyLevels { get; set; } = 3;
}
