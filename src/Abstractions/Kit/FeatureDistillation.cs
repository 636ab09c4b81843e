using Platform.Abstractions.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Feature imitation (FitNets; for detectors, Wang et al., CVPR 2019): the state a student leaves entering one stage of
/// its forward pass (<see cref="IStagedForward"/>) is pulled toward the teacher's state at the same stage. A pruned
/// student has fewer channels there, so each state tensor passes a 1x1 adaptor (a linear map over the channel dimension,
/// dimension 1) into the teacher's channels. The adaptor starts at the least-squares fit from the student's features to
/// the teacher's on one batch, so the term measures what the student cannot express rather than an untrained map, and
/// it trains with the student (its <see cref="Parameters"/> go to the optimiser beside the model's).
/// With an attention temperature, positions are weighted by the teacher's spatial attention (Zhang and Ma, ICLR 2021):
/// on a BEV grid that is mostly empty, a uniform mean is dominated by background cells the detector never reads.
/// </summary>
public sealed class FeatureDistillation : IDisposable
{
    private readonly IStagedForward _student;
    private readonly IStagedForward _teacher;
    private readonly List<(Parameter Weight, Parameter Bias)> _adaptors;

    /// <summary>The stage whose entering state is compared.</summary>
    public int Stage { get; }

    private FeatureDistillation(IStagedForward student, IStagedForward teacher, int stage, double attentionTemperature,
        List<(Parameter, Parameter)> adaptors, double attendedFraction)
    {
        _student = student;
        _teacher = teacher;
        Stage = stage;
        AttentionTemperature = attentionTemperature;
        _adaptors = adaptors;
        AttendedFraction = attendedFraction;
    }

    /// <summary>Temperature of the positions' attention weights; 0: every position weighs the same.</summary>
    public double AttentionTemperature { get; }

    /// <summary>
    /// On the batch the adaptors were fitted on, the share of positions the weights effectively cover, (Σw)² / (n Σw²):
    /// 1 when uniform, about k / n when k of n positions share the weight.
    /// </summary>
    public double AttendedFraction { get; }

    /// <summary>The adaptors' weights and biases, to be trained with the student.</summary>
    public IEnumerable<Parameter> Parameters => _adaptors.SelectMany(a => new[] { a.Weight, a.Bias });

    /// <summary>Adaptor i's weight [teacher channels, student channels] (a copy).</summary>
    public Tensor AdaptorWeight(int i) => _adaptors[i].Weight.detach().clone();

    /// <summary>
    /// Checks that the two models' states at <paramref name="stage"/> can be compared (as many tensors, each of rank
    /// &gt;= 2, equal in every dimension but the channels) and fits each adaptor on <paramref name="example"/>, with both
    /// models as they are (train or eval mode). Errors are <see cref="ArgumentException"/>s saying what differs.
    /// </summary>
    /// <param name="stage">1 .. StageCount - 1; a negative value counts from the end (-1: the state the last stage reads).</param>
    /// <param name="attentionTemperature">0: positions weigh alike. Above 0: see <see cref="PositionWeights"/>; the fit is
    /// weighted the same way.</param>
    public static FeatureDistillation Fit(IStagedForward student, IStagedForward teacher, int stage, ModelBatch example,
        double attentionTemperature = 0)
    {
        if (!(attentionTemperature >= 0) || double.IsInfinity(attentionTemperature))
            throw new ArgumentException($"attention temperature {attentionTemperature}: must be 0 (positions weigh alike) or a positive number.");
        if (student.StageCount != teacher.StageCount)
            throw new ArgumentException($"the model runs in {student.StageCount} stages and the teacher in {teacher.StageCount}: their states cannot be matched.");
        var resolved = stage < 0 ? student.StageCount + stage : stage;
        if (resolved < 1 || resolved >= student.StageCount)
            throw new ArgumentException($"stage {stage} is not a state between two stages: the model has {student.StageCount} stages, so 1 .. {student.StageCount - 1} or -1 .. -{student.StageCount - 1}.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var s = student.Enter(resolved, example);
        var t = teacher.Enter(resolved, example);
        if (s.Count != t.Count)
            throw new ArgumentException($"entering stage {resolved} the model's state has {s.Count} tensors and the teacher's {t.Count}.");
        var adaptors = new List<(Parameter, Parameter)>();
        var attended = 0.0;
        for (var i = 0; i < s.Count; i++)
        {
            CheckShapes(s[i], t[i], i, resolved);
            // One weight per row of the flattened state: [positions, 1].
            var rows = PositionWeights(t[i], attentionTemperature) is { } w ? Flatten(w) : null;
            attended += rows is null ? 1 : rows.sum().square().item<float>() / (rows.shape[0] * rows.square().sum().item<float>());
            var (weight, bias) = LeastSquares(Flatten(s[i]), Flatten(t[i]), rows);
            adaptors.Add((new Parameter(weight.MoveToOuterDisposeScope()), new Parameter(bias.MoveToOuterDisposeScope())));
        }
        return new FeatureDistillation(student, teacher, resolved, attentionTemperature, adaptors, attended / s.Count);
    }

    /// <summary>
    /// The teacher's spatial attention over the positions of a [batch, channels, positions...] state, as weights of mean 1
    /// per sample, shaped [batch, 1, positions...] to broadcast over channels: n · softmax(a / (mean(a) · temperature)),
    /// where a is the mean absolute activation over channels at each position and n the number of positions. Dividing by
    /// mean(a) makes the temperature independent of the features' scale. Null when the temperature is 0 or the state has
    /// no positions (rank 2): every element then weighs the same.
    /// </summary>
    public static Tensor? PositionWeights(Tensor teacherState, double temperature)
    {
        if (temperature == 0 || teacherState.dim() < 3) return null;
        using var scope = NewDisposeScope();
        var activity = teacherState.detach().abs().mean([1]).flatten(1);
        var scaled = activity / ((activity.mean([1], keepdim: true) + 1e-12) * temperature);
        var weights = softmax(scaled, 1) * activity.shape[1];
        var shape = teacherState.shape.ToArray();
        shape[1] = 1;
        return weights.reshape(shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One batch: the student's output (computed through the stages, as <see cref="IModel.Forward"/> would), the teacher's
    /// output (no gradient), and the feature term: the mean over state tensors of mean((adapted student − teacher)²)
    /// divided by the teacher's mean square, so that its weight does not depend on the features' scale; with an attention
    /// temperature both means are weighted by <see cref="PositionWeights"/> of the teacher's state.
    /// </summary>
    public (ModelOutput Student, ModelOutput Teacher, Tensor Loss) Run(ModelBatch batch)
    {
        IReadOnlyList<Tensor> teacherState;
        ModelOutput teacherOutput;
        using (no_grad())
        {
            teacherState = _teacher.Enter(Stage, batch);
            teacherOutput = _teacher.ForwardFrom(Stage, teacherState, batch);
        }
        var state = _student.Enter(Stage, batch);
        var output = _student.ForwardFrom(Stage, state, batch);
        Tensor? loss = null;
        for (var i = 0; i < state.Count; i++)
        {
            var reference = teacherState[i];
            var error = (Adapt(i, state[i]) - reference).square();
            var scale = reference.square();
            if (PositionWeights(reference, AttentionTemperature) is { } w)
            {
                error = error * w;
                scale = scale * w;
            }
            var term = error.mean() / (scale.mean() + 1e-12);
            loss = loss is null ? term : loss + term;
        }
        return (output, teacherOutput, loss! / state.Count);
    }

    /// <summary>The student's state tensor <paramref name="i"/> mapped into the teacher's channels.</summary>
    public Tensor Adapt(int i, Tensor studentState)
    {
        var (weight, bias) = _adaptors[i];
        return (studentState.movedim([1], [-1]).matmul(weight.t()) + bias).movedim([-1], [1]);
    }

    private static void CheckShapes(Tensor student, Tensor teacher, int i, int stage)
    {
        if (student.dim() < 2 || student.dim() != teacher.dim())
            throw new ArgumentException($"entering stage {stage}, state tensor {i} has shape [{string.Join(", ", student.shape)}] in the model and [{string.Join(", ", teacher.shape)}] in the teacher: both need a batch and a channel dimension, and the same rank.");
        for (var d = 0; d < student.dim(); d++)
            if (d != 1 && student.shape[d] != teacher.shape[d])
                throw new ArgumentException($"entering stage {stage}, state tensor {i} has shape [{string.Join(", ", student.shape)}] in the model and [{string.Join(", ", teacher.shape)}] in the teacher: only the channels (dimension 1) may differ.");
    }

    /// <summary>[batch, channels, ...] as rows of channels: [positions, channels].</summary>
    private static Tensor Flatten(Tensor x) => x.movedim([1], [-1]).reshape(-1, x.shape[1]);

    /// <summary>
    /// W, b minimising Σ w‖W s + b − t‖² over the rows (w: <paramref name="rowWeights"/> [rows, 1], or 1), with a ridge
    /// of 1e-4 of the mean diagonal so that channels that never fire (all zero after a ReLU) get weight 0 instead of a
    /// singular system. In float64; returned as float32.
    /// </summary>
    private static (Tensor Weight, Tensor Bias) LeastSquares(Tensor s, Tensor t, Tensor? rowWeights)
    {
        var rows = s.to_type(ScalarType.Float64);
        var augmented = cat([rows, ones(rows.shape[0], 1, dtype: ScalarType.Float64, device: rows.device)], 1);
        var targets = t.to_type(ScalarType.Float64);
        if (rowWeights is not null)
        {
            // Weighted least squares as the plain problem on rows scaled by √w.
            var root = rowWeights.to_type(ScalarType.Float64).sqrt();
            augmented = augmented * root;
            targets = targets * root;
        }
        var gram = augmented.t().matmul(augmented);
        var ridge = gram.diagonal().mean().item<double>() * 1e-4 + 1e-12;
        var solution = linalg.solve(gram + eye(gram.shape[0], dtype: ScalarType.Float64, device: gram.device) * ridge,
            augmented.t().matmul(targets));
        var channels = solution.shape[0] - 1;
        var weight = solution.narrow(0, 0, channels).t().contiguous().to_type(ScalarType.Float32);
        var bias = solution[channels].contiguous().to_type(ScalarType.Float32);
        return (weight, bias);
    }

    public void Dispose()
    {
        foreach (var (weight, bias) in _adaptors)
        {
            weight.Dispose();
            bias.Dispose();
        }
    }
}
