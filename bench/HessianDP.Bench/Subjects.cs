using System.Text.Json;
using System.Text.RegularExpressions;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Plugins.Datasets.KITTI;
using Platform.Plugins.Models.CenterPoint;
using Platform.Plugins.Models.PointNet;

namespace Platform.Bench.HessianDP;

/// <summary>
/// What the bench prunes: a dataset, a dense trained model (from a checkpoint, or trained here), an evaluator
/// and the headline metrics of its table. The pruning itself only sees IModel and the pipeline context.
/// </summary>
internal abstract class Subject : IComponentFactory
{
    public abstract string Name { get; }
    public abstract string DataDescription { get; }
    public abstract IDataset CreateDataset(RunServices services);
    public abstract IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset);
    protected abstract IModel NewDenseModel(DatasetInfo dataset);
    public abstract IEvaluator Evaluator { get; }

    /// <summary>The evaluator's metrics shown as table columns, by header.</summary>
    public abstract IReadOnlyList<(string Header, string Metric)> Headline(IReadOnlyDictionary<string, double> metrics);

    /// <summary>Which headline column the AP/accuracy plot draws.</summary>
    public abstract (string Header, string Metric) PlotMetric(IReadOnlyList<(string Header, string Metric)> headline);

    public IModel LoadModel(string checkpointPath)
    {
        var header = Checkpoint.ReadHeader(checkpointPath);
        var model = CreateModel(header.Spec.Use, header.Spec.OptionsJson, header.Spec.Dataset);
        Checkpoint.LoadInto(model, checkpointPath);
        return model;
    }

    /// <summary>The dense model: loaded from Checkpoint when given, else built and trained with the kit's trainer.</summary>
    public (IModel Model, string Origin) Dense(BenchSettings settings, IDataset dataset, RunServices services)
    {
        if (settings.Checkpoint is { Length: > 0 } path) return (LoadModel(path), $"checkpoint {path}");
        Seeding.Seed(settings.Seed);
        var model = NewDenseModel(dataset.Info);
        if (settings.Epochs == 0) return (model, "untrained (Epochs=0: a smoke run of the code path, not a result)");
        var history = new Trainer(services).Fit(model, dataset.GetSplit("train"),
            new TrainOptions { Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate, MaxSamples = settings.TrainCount }, description: "train dense");
        return (model, $"trained here: {settings.Epochs} epochs on {Math.Min(settings.TrainCount, dataset.GetSplit("train").Count)} train samples ({history.Seconds:F0} s), final loss {history.EpochLoss[^1]:F3}");
    }
}

internal sealed class PointNetSubject(BenchSettings settings) : Subject
{
    public override string Name => "pointnet";
    public override string DataDescription => $"procedural shapes ({settings.Classes} classes, {settings.Points} points per shape), accuracy on the first {settings.EvalSamples} of the val split";

    public override IDataset CreateDataset(RunServices services) => new ShapesDataset(new ShapesOptions
    {
        Classes = settings.Classes, TrainCount = settings.TrainCount, ValCount = settings.EvalSamples, TestCount = 12, Points = settings.Points,
    }, services);

    public override IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) => use == "pointnet"
        ? new PointNetModel(optionsJson is null ? new() : JsonSerializer.Deserialize<PointNetOptions>(optionsJson)!, dataset)
        : throw new ArgumentException($"Subject pointnet builds 'pointnet' models, not '{use}'.");

    protected override IModel NewDenseModel(DatasetInfo dataset) => new PointNetModel(new PointNetOptions
    {
        WidthMultiplier = settings.Width, NumPoints = settings.Points, InputTransform = false, FeatureTransform = false, Dropout = 0.1,
    }, dataset);

    public override IEvaluator Evaluator { get; } = new AccuracyEvaluator(new NoOptions());
    public override (string Header, string Metric) PlotMetric(IReadOnlyList<(string Header, string Metric)> headline) => headline[0];

    public override IReadOnlyList<(string Header, string Metric)> Headline(IReadOnlyDictionary<string, double> metrics) =>
        [("accuracy (%)", "accuracy"), ("mean class acc. (%)", "meanClassAccuracy")];
}

internal sealed class CenterPointSubject(BenchSettings settings) : Subject
{
    public override string Name => "centerpoint";
    public override string DataDescription => $"KITTI-format data at {settings.KittiRoot}, 3D AP R40 (moderate) on the first {settings.EvalSamples} frames of the {settings.EvalSplit} split";

    public override IDataset CreateDataset(RunServices services) => new KittiDataset(new KittiOptions
    {
        Root = settings.KittiRoot, Synthetic = settings.SyntheticFrames > 0, SyntheticTrainFrames = settings.SyntheticFrames * 4 / 5, SyntheticValFrames = Math.Max(1, settings.SyntheticFrames - settings.SyntheticFrames * 4 / 5), SyntheticTestFrames = 0,
    }, services);

    public override IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset) => use == CenterPointModel.Name
        ? new CenterPointModel(optionsJson is null ? new() : JsonSerializer.Deserialize<CenterPointOptions>(optionsJson)!, dataset)
        : throw new ArgumentException($"Subject centerpoint builds '{CenterPointModel.Name}' models, not '{use}'.");

    protected override IModel NewDenseModel(DatasetInfo dataset) => new CenterPointModel(new CenterPointOptions { Preset = settings.Preset }, dataset);

    public override IEvaluator Evaluator { get; } = new KittiApEvaluator(new KittiApOptions { WriteResultFiles = false });
    public override (string Header, string Metric) PlotMetric(IReadOnlyList<(string Header, string Metric)> headline) => headline[^1]; // mAP

    public override IReadOnlyList<(string Header, string Metric)> Headline(IReadOnlyDictionary<string, double> metrics)
    {
        // Per-class 3D AP R40 at moderate difficulty, then their mean, as the evaluator names them.
        var pattern = new Regex("^(?<cls>[^/]+)/3d/moderate/R40$", RegexOptions.IgnoreCase);
        var keys = metrics.Keys.Where(k => pattern.IsMatch(k)).OrderBy(k => k.StartsWith("mAP", StringComparison.Ordinal) ? 1 : 0).ThenBy(k => k, StringComparer.Ordinal);
        return keys.Select(k => ($"{pattern.Match(k).Groups["cls"].Value} 3D R40 mod.", k)).ToList();
    }
}
