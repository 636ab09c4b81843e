using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class EvaluatorAndCommandTests
{
    private static string _parent = "";
    private static string _root = "";

    [OneTimeSetUp]
    public void GenerateOnce()
    {
        _parent = TestPaths.NewTempDirectory("kitti-eval");
        _root = Path.Combine(_parent, "synth");
        SyntheticKittiScenes.GenerateTree(_root, new SyntheticSplits(4, 1, 0), 21, NullProgressReporter.Instance);
    }

    [OneTimeTearDown]
    public void Cleanup() => Directory.Delete(_parent, recursive: true);

    private static List<(Sample, Prediction)> GroundTruthAsPredictions(out KittiDataset dataset)
    {
        dataset = new KittiDataset(new KittiOptions { Root = _root }, RunServices.ForTesting());
        var split = dataset.GetSplit("trainval");
        var items = new List<(Sample, Prediction)>();
        for (var i = 0; i < split.Count; i++)
        {
            var sample = split.Get(i);
            var boxes = sample.Boxes.Select((b, k) => b with { Score = 0.9f - 0.01f * k - 0.1f * i }).ToList();
            items.Add((sample.WithoutPoints(), new Prediction { Boxes = boxes }));
        }
        return items;
    }

    [Test]
    public void The_evaluator_scores_lidar_predictions_as_the_protocol_scores_the_same_boxes_in_label_form()
    {
        var items = GroundTruthAsPredictions(out var dataset);
        var output = Path.Combine(_parent, "eval-" + Guid.NewGuid().ToString("N")[..6]);
        var outcome = new KittiApEvaluator(new KittiApOptions()).Evaluate(items, dataset.Info, output);

        // The same frames through the protocol directly, the label records themselves as detections.
        var gt = items.Select(t => ((KittiFrameAnnotation)t.Item1.Annotation!).Objects).ToList();
        var dt = gt.Select((objects, i) => (IReadOnlyList<KittiObject>)objects
            .Where(o => o.Type is "Car" or "Pedestrian" or "Cyclist")
            .Select((o, k) => o with { Score = 0.9f - 0.01f * k - 0.1f * i }).ToList()).ToList();
        var direct = KittiObjectEvaluation.Evaluate(gt, dt, dataset.Info.ClassNames);
        var car = direct.Single(a => a.Class == "Car" && a.Metric == KittiMetric.Box3D && a.Difficulty == KittiDifficulty.Moderate);
        Assert.That(car.GroundTruth, Is.GreaterThan(0));
        Assert.That(outcome.Metrics["Car/3d/moderate/R40"], Is.EqualTo(car.ApR40).Within(1e-9));
        Assert.That(outcome.Metrics["Car/bev/moderate/R11"], Is.EqualTo(direct.Single(a => a.Class == "Car" && a.Metric == KittiMetric.Bev && a.Difficulty == KittiDifficulty.Moderate).ApR11).Within(1e-9));
        Assert.That(outcome.Metrics.Keys, Does.Contain("mAP/3d/moderate/R40"));
        Assert.That(outcome.Tables.Single().Rows, Has.Count.EqualTo(12), "3 classes x (3d, bev, 2d, aos)");
        Assert.That(outcome.Metrics["Car/aos/moderate/R40"], Is.LessThanOrEqualTo(outcome.Metrics["Car/2d/moderate/R40"] + 1e-9), "orientation similarity is at most 1 per true positive");
        Assert.That(outcome.Series["Car/3d/moderate precision-recall"].Y, Has.Count.EqualTo(41));

        // Result files: one per frame, label_2 lines with a score.
        var file = Path.Combine(output, "data", items[0].Item1.Id + ".txt");
        Assert.That(outcome.Files, Does.Contain("data"));
        var written = KittiFiles.ReadLabels(file);
        Assert.That(written, Has.Count.EqualTo(items[0].Item2.Boxes.Count));
        Assert.That(File.ReadAllLines(file).All(l => l.Split(' ').Length == 16));

        // eval-kitti on those files agrees with the evaluator.
        var aps = EvalKittiCommand.Evaluate(new EvalKittiOptions { Gt = _root, Det = output, Split = "trainval" }, out var frames, out var missing);
        Assert.That((frames, missing), Is.EqualTo((5, 0)));
        Assert.That(aps.Single(a => a.Class == "Car" && a.Metric == KittiMetric.Box3D && a.Difficulty == KittiDifficulty.Moderate).ApR40,
            Is.EqualTo(outcome.Metrics["Car/3d/moderate/R40"]).Within(1e-9));
    }

    [Test]
    public void The_evaluator_refuses_samples_without_a_KITTI_annotation()
    {
        var sample = new Sample { Id = "x", Points = [], PointFeatures = 4 };
        var info = new DatasetInfo("other", ModelTask.Detection3D, ["Car"], 4);
        var e = Assert.Throws<InvalidOperationException>(() => new KittiApEvaluator(new KittiApOptions()).Evaluate([(sample, new Prediction())], info, _parent))!;
        Assert.That(e.Message, Does.Contain("'x'").And.Contain("kitti-ap"));
    }

    [Test]
    public void Eval_kitti_returns_zero_on_success_and_two_with_a_clear_message_on_a_missing_folder()
    {
        var det = Path.Combine(_parent, "det-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(det);
        Assert.That(new EvalKittiCommand(new EvalKittiOptions { Gt = _root, Det = det, Split = "val" }).Run(), Is.EqualTo(0));
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.That(new EvalKittiCommand(new EvalKittiOptions { Gt = _root, Det = Path.Combine(_parent, "none") }).Run(), Is.EqualTo(2));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(error.ToString(), Does.Contain("none").And.Contain("--det"));
    }

    [Test]
    public void Kitti_synth_writes_a_tree_and_refuses_to_overwrite_one()
    {
        var output = Path.Combine(_parent, "cmd-" + Guid.NewGuid().ToString("N")[..6]);
        Assert.That(new KittiSynthCommand(new KittiSynthOptions { Out = output, Train = 1, Val = 1, Test = 1, Seed = 1 }).Run(), Is.EqualTo(0));
        Assert.That(File.ReadAllLines(Path.Combine(output, "ImageSets", "val.txt")), Is.EqualTo(new[] { "000001" }));
        Assert.That(File.ReadAllLines(Path.Combine(output, "ImageSets", "test.txt")), Is.EqualTo(new[] { "000002" }));
        var saved = Console.Error;
        Console.SetError(TextWriter.Null);
        try
        {
            Assert.That(new KittiSynthCommand(new KittiSynthOptions { Out = output, Train = 1, Val = 1, Test = 1, Seed = 1 }).Run(), Is.EqualTo(2));
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    [Test]
    public void The_module_registers_the_dataset_evaluator_throughput_step_and_two_commands_by_name()
    {
        var builder = new ContainerBuilder();
        builder.RegisterModule<KittiModule>();
        using var container = builder.Build();
        var names = container.Resolve<IEnumerable<ComponentDescriptor>>().Select(d => (d.Kind, d.Name)).ToArray();
        Assert.That(names, Is.EquivalentTo(new[]
        {
            (ComponentKind.Dataset, "kitti"), (ComponentKind.Evaluator, "kitti-ap"), (ComponentKind.Step, "kitti-throughput"),
            (ComponentKind.Command, "eval-kitti"), (ComponentKind.Command, "data kitti-synth"),
        }));
    }

    [Test]
    public void The_evaluator_offers_3D_and_BEV_R40_AP_for_intervals_that_match_its_own_figures_when_every_frame_counts_once()
    {
        var items = GroundTruthAsPredictions(out var dataset);
        var outcome = new KittiApEvaluator(new KittiApOptions { WriteResultFiles = false }).Evaluate(items, dataset.Info, Path.Combine(_parent, "resample"));
        var resamplable = outcome.Resamplable!;
        Assert.That(resamplable.SampleIds, Is.EqualTo(items.Select(i => i.Item1.Id)));
        var once = resamplable.Compute(Enumerable.Repeat(1, items.Count).ToArray());
        Assert.That(once.Keys, Has.Some.EqualTo("mAP/3d/moderate/R40").And.Some.EqualTo("Car/bev/easy/R40"));
        Assert.That(once.Keys, Has.None.Contains("/2d/").And.None.EndsWith("/R11"));
        foreach (var (key, value) in once) Assert.That(value, Is.EqualTo(outcome.Metrics[key]).Within(1e-9), key);
    }
}
