using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

/// <summary>
/// A small PointNet-like detector-ish model for the pruner: shared per-point MLP (conv1d over a fixed
/// number of points), max-pool, a hidden linear layer, then a confidence head (sigmoid scores) and a
/// locality head (box regression) - or a logits head in classifier mode.
/// </summary>
internal class TinyPointModel : ModelBase, IDescribesInput
{
    public const int Points = 32;
    private protected readonly Net _net;
    private readonly bool _classifier;
    private readonly bool _inputCosts;

    /// <param name="inputCosts">Cost the conv layers per point with x &gt; 0 at a measured input (as a pillar net runs per non-empty pillar).</param>
    public TinyPointModel(bool classifier = false, double otherFlops = 500, int width = 64, bool inputCosts = false)
        : base("tiny-point", new { classifier, width }, new DatasetInfo("synthetic", classifier ? ModelTask.Classification : ModelTask.Detection3D, ["a", "b", "c", "d"], 3))
    {
        _classifier = classifier;
        _inputCosts = inputCosts;
        OtherFlops = otherFlops;
        _net = new Net(width, classifier);
    }

    public IReadOnlyDictionary<string, double> DescribeInput(ModelBatch batch) => new Dictionary<string, double>
    {
        ["activePoints"] = batch["points"][.., 0, ..].gt(0).sum().item<long>() / (double)batch.Samples.Count,
    };

    public InputCosts? CostsAt(IReadOnlyDictionary<string, double> input) => _inputCosts
        ? new InputCosts(PrunableLayers.Where(l => l.Kind == "conv1d").ToDictionary(l => l.Name, _ => input["activePoints"]), OtherFlops)
        : null;

    public double OtherFlops { get; }
    public override ModelTask Task => _classifier ? ModelTask.Classification : ModelTask.Detection3D;
    public override nn.Module Module => _net;
    public override double OtherFlopsPerSample => OtherFlops;

    public override IReadOnlyList<DistortionOutput> DistortionOutputs => _classifier
        ? [new("logits", DistortionGroup.Logits)]
        : [new("heatmap", DistortionGroup.Confidence, ApplySigmoid: true), new("boxes", DistortionGroup.Locality)];

    // A 1x1 conv1d weight is used once per point; a linear weight once per sample.
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => layer is TorchSharp.Modules.Conv1d ? Points : 1;

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device)
    {
        var data = new float[samples.Count * 3 * Points];
        for (var b = 0; b < samples.Count; b++)
            for (var p = 0; p < Points; p++)
                for (var f = 0; f < 3; f++)
                    data[(b * 3 + f) * Points + p] = samples[b].Points[(p % samples[b].PointCount) * samples[b].PointFeatures + f];
        var labels = samples.Select(s => (long)Math.Max(0, s.Label)).ToArray();
        return new ModelBatch(samples, new Dictionary<string, Tensor>
        {
            ["points"] = tensor(data, [samples.Count, 3, Points]).to(device),
            ["labels"] = tensor(labels).to(device),
        });
    }

    public override ModelOutput Forward(ModelBatch batch) => _net.Run(batch["points"]);

    /// <summary>How many times the first conv has run: the passes that started from the input.</summary>
    public int FirstStagePasses => _net.FirstStagePasses;

    public override LossTerms Loss(ModelOutput output, ModelBatch batch)
    {
        var loss = _classifier
            ? nn.functional.cross_entropy(output["logits"], batch["labels"])
            : nn.functional.binary_cross_entropy_with_logits(output["heatmap"], nn.functional.one_hot(batch["labels"], 4).to_type(ScalarType.Float32))
              + output["boxes"].square().mean() * 0.1;
        return new LossTerms(loss, new Dictionary<string, double> { ["loss"] = loss.item<float>() });
    }

    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch)
    {
        var scores = _classifier ? output["logits"] : output["heatmap"];
        var ids = scores.argmax(1).data<long>().ToArray();
        return ids.Select(i => new Prediction { ClassId = (int)i }).ToList();
    }

    private protected sealed class Net : nn.Module
    {
        private readonly TorchSharp.Modules.Conv1d conv1, conv2;
        private readonly TorchSharp.Modules.Linear fc1;
        private readonly TorchSharp.Modules.Linear? heatmap, boxes, logits;

        public Net(int width, bool classifier) : base("tiny-point")
        {
            conv1 = nn.Conv1d(3, width / 2, 1);
            conv2 = nn.Conv1d(width / 2, width, 1);
            fc1 = nn.Linear(width, width);
            if (classifier) logits = nn.Linear(width, 4);
            else
            {
                heatmap = nn.Linear(width, 4);
                boxes = nn.Linear(width, 7);
            }
            RegisterComponents();
        }

        public int FirstStagePasses { get; private set; }

        public ModelOutput Run(Tensor points) => Heads(Stage(2, Stage(1, Stage(0, points))));

        // call, not forward: weight reconstruction sees layer inputs through forward hooks.
        public Tensor Stage(int k, Tensor x)
        {
            if (k == 0) FirstStagePasses++;
            return k switch
            {
                0 => nn.functional.relu(conv1.call(x)),
                1 => nn.functional.relu(conv2.call(x)).amax([2]),
                _ => nn.functional.relu(fc1.call(x)),
            };
        }

        public ModelOutput Heads(Tensor h) => logits is not null
            ? new ModelOutput(new Dictionary<string, Tensor> { ["logits"] = logits.call(h) })
            : new ModelOutput(new Dictionary<string, Tensor> { ["heatmap"] = heatmap!.call(h), ["boxes"] = boxes!.call(h) });
    }
}

/// <summary>The same model run in stages (IStagedForward): conv1; conv2 and the pooling; fc1; the heads.</summary>
internal sealed class StagedTinyPointModel(bool classifier = false, int width = 64) : TinyPointModel(classifier, width: width), IStagedForward
{
    public int StageCount => 4;

    public int StageOf(string layer) => layer switch { "conv1" => 0, "conv2" => 1, "fc1" => 2, _ => 3 };

    public IReadOnlyList<Tensor> Enter(int stage, ModelBatch batch)
    {
        if (stage == 0) return [];
        var x = batch["points"];
        for (var k = 0; k < stage; k++) x = _net.Stage(k, x);
        return [x];
    }

    public ModelOutput ForwardFrom(int stage, IReadOnlyList<Tensor> state, ModelBatch batch)
    {
        var x = stage == 0 ? batch["points"] : state[0];
        for (var k = stage; k < 3; k++) x = _net.Stage(k, x);
        return _net.Heads(x);
    }
}

/// <summary>y = W2·W1·x on the mean point, no nonlinearity: a model whose Jacobian is easy to take exactly.</summary>
internal sealed class TinyLinearModel : ModelBase
{
    private readonly nn.Module<Tensor, Tensor> _net;

    public TinyLinearModel() : base("tiny-linear", new { }, new DatasetInfo("synthetic", ModelTask.Classification, ["a", "b"], 3))
    {
        _net = nn.Sequential(("first", nn.Linear(3, 4, hasBias: false)), ("second", nn.Linear(4, 2, hasBias: false)));
    }

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => _net;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;

    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device)
    {
        var data = samples.SelectMany(s => Enumerable.Range(0, 3).Select(f => Enumerable.Range(0, s.PointCount).Average(p => s.Points[p * 3 + f]))).Select(v => (float)v).ToArray();
        return new ModelBatch(samples, new Dictionary<string, Tensor> { ["x"] = tensor(data, [samples.Count, 3]).to(device) });
    }

    /// <summary>The next this many forwards give finite outputs but non-finite gradients (the transient fault seen on these machines).</summary>
    public int NonFiniteGradientForwards { get; set; }

    public override ModelOutput Forward(ModelBatch batch)
    {
        var logits = _net.forward(batch["x"]);
        if (NonFiniteGradientForwards > 0)
        {
            NonFiniteGradientForwards--;
            // √|0·w| is 0 forward; its gradient is ∞·0 = NaN in every weight of the first layer.
            logits = logits + (PrunableLayers[0].Weight * 0).abs().sqrt().sum();
        }
        return new(new Dictionary<string, Tensor> { ["logits"] = logits });
    }

    public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
}

/// <summary>A model whose prunable-layer list is empty.</summary>
internal sealed class NoLayerModel : ModelBase
{
    private readonly nn.Module<Tensor, Tensor> _net = nn.ReLU();

    public NoLayerModel() : base("no-layers", new { }, new DatasetInfo("synthetic", ModelTask.Classification, ["a"], 3)) { }

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => _net;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;
    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
    public override ModelOutput Forward(ModelBatch batch) => throw new NotSupportedException();
    public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
}

/// <summary>Random point clouds whose label is the octant-ish region their mean falls in.</summary>
internal sealed class SyntheticPointDataset : IDataset
{
    private readonly Dictionary<string, ISampleSource> _splits;

    public SyntheticPointDataset(int seed = 0, int count = 64)
    {
        _splits = new Dictionary<string, ISampleSource>
        {
            ["train"] = new InMemorySampleSource("train", Make(seed, count, "train")),
            ["val"] = new InMemorySampleSource("val", Make(seed + 1, count, "val")),
        };
    }

    public DatasetInfo Info { get; } = new("synthetic", ModelTask.Classification, ["a", "b", "c", "d"], 3);
    public IReadOnlyList<string> Splits => _splits.Keys.ToList();
    public string DefaultEvaluator => "none";

    public ISampleSource GetSplit(string split) => _splits.TryGetValue(split, out var s)
        ? s : throw new KeyNotFoundException($"No split '{split}'; the dataset has {string.Join(", ", _splits.Keys)}.");

    private static List<Sample> Make(int seed, int count, string name)
    {
        var random = new Random(seed);
        var samples = new List<Sample>();
        for (var i = 0; i < count; i++)
        {
            var label = random.Next(4);
            var cx = (label & 1) == 0 ? -1f : 1f;
            var cy = (label & 2) == 0 ? -1f : 1f;
            var points = new float[TinyPointModel.Points * 3];
            for (var p = 0; p < TinyPointModel.Points; p++)
            {
                points[p * 3] = cx + (float)(random.NextDouble() * 2 - 1);
                points[p * 3 + 1] = cy + (float)(random.NextDouble() * 2 - 1);
                points[p * 3 + 2] = (float)(random.NextDouble() * 2 - 1);
            }
            samples.Add(new Sample { Id = $"{name}-{i}", Points = points, PointFeatures = 3, Label = label });
        }
        return samples;
    }
}

internal sealed class NoComponents : IComponentFactory
{
    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) => throw new NotSupportedException();
    public IModel LoadModel(string checkpointPath) => throw new NotSupportedException();
}

internal static class TestPipeline
{
    public static PipelineContext Context(IModel model, int seed = 0, int samples = 64) =>
        new(RunServices.ForTesting(seed, Platform.TestKit.TestPaths.NewTempDirectory("hessiandp")), new SyntheticPointDataset(seed, samples), new NoComponents()) { Model = model };
}

internal static class TrainedModels
{
    /// <summary>A TinyPointModel trained briefly on the synthetic split with the kit's trainer, so the pruner sees a trained network.</summary>
    /// <param name="staged">The model as <see cref="StagedTinyPointModel"/>: the same weights for the same seed.</param>
    public static TinyPointModel Detector(int seed = 0, bool classifier = false, bool staged = false)
    {
        Platform.Abstractions.Kit.Seeding.Seed(seed);
        var model = staged ? new StagedTinyPointModel(classifier) : new TinyPointModel(classifier);
        var services = RunServices.ForTesting(seed);
        new Platform.Abstractions.Kit.Trainer(services).Fit(model, new SyntheticPointDataset(seed).GetSplit("train"),
            new Platform.Abstractions.Kit.TrainOptions { Epochs = 8, BatchSize = 8, LearningRate = 1e-2 });
        return model;
    }
}

/// <summary>One linear layer y = Wx + b on batch["x"], called through hooks: the least-squares problem of reconstruction in its plainest form.</summary>
internal sealed class OneLinearModel : ModelBase
{
    private readonly TorchSharp.Modules.Linear _linear;
    private readonly nn.Module _root;

    public OneLinearModel(int inputs, int outputs) : base("one-linear", new { inputs, outputs }, new DatasetInfo("synthetic", ModelTask.Classification, ["a"], 3))
    {
        _linear = nn.Linear(inputs, outputs);
        _root = nn.Sequential(("fc", _linear)); // named_modules lists children, not the root
    }

    public override ModelTask Task => ModelTask.Classification;
    public override nn.Module Module => _root;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("logits", DistortionGroup.Logits)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;
    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
    public override ModelOutput Forward(ModelBatch batch) => new(new Dictionary<string, Tensor> { ["logits"] = _linear.call(batch["x"]) });
    public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
}

/// <summary>One 3x3 conv (padding 1, no bias) on a map batch["x"] [B, C, H, W], its output a confidence map: reconstruction with cell weights.</summary>
internal sealed class OneConvModel : ModelBase
{
    private readonly TorchSharp.Modules.Conv2d _conv;
    private readonly nn.Module _root;

    public OneConvModel(int inputs, int outputs) : base("one-conv", new { inputs, outputs }, new DatasetInfo("synthetic", ModelTask.Detection3D, ["a"], 3))
    {
        _conv = nn.Conv2d(inputs, outputs, 3, padding: 1, bias: false);
        _root = nn.Sequential(("conv", _conv));
    }

    public override ModelTask Task => ModelTask.Detection3D;
    public override nn.Module Module => _root;
    public override IReadOnlyList<DistortionOutput> DistortionOutputs => [new("heatmap", DistortionGroup.Confidence, ApplySigmoid: true)];
    protected override double FlopsPerWeight(string layerName, nn.Module layer) => 1;
    public override ModelBatch Collate(IReadOnlyList<Sample> samples, Device device) => throw new NotSupportedException();
    public override ModelOutput Forward(ModelBatch batch) => new(new Dictionary<string, Tensor> { ["heatmap"] = _conv.call(batch["x"]) });
    public override LossTerms Loss(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
    public override IReadOnlyList<Prediction> Predict(ModelOutput output, ModelBatch batch) => throw new NotSupportedException();
}
