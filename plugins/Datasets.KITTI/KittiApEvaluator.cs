using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>Options of the "kitti-ap" evaluator.</summary>
public sealed class KittiApOptions
{
    [Description("Image width the projected 2D boxes of detections are clipped to (KITTI's images are about 1242 x 375; the devkit clips to each image's own size).")]
    [Range(1, 100000)]
    public int ImageWidth { get; set; } = 1242;

    [Description("Image height the projected 2D boxes are clipped to.")]
    [Range(1, 100000)]
    public int ImageHeight { get; set; } = 375;

    [Description("Write the detections as KITTI result files (label_2 format with a score) under data/ in the evaluator's folder.")]
    public bool WriteResultFiles { get; set; } = true;
}

/// <summary>
/// KITTI AP of a detector's predictions: each lidar-frame box goes to the camera frame through the frame's
/// own calibration and is projected with P2 for its 2D box, then the devkit protocol
/// (<see cref="KittiObjectEvaluation"/>) scores 2D, BEV and 3D boxes for easy, moderate and hard.
/// </summary>
public sealed class KittiApEvaluator(KittiApOptions options) : IEvaluator
{
    public StepOutcome Evaluate(IReadOnlyList<(Sample Sample, Prediction Prediction)> items, DatasetInfo dataset, string outputDirectory)
    {
        var classes = dataset.ClassNames;
        var groundTruth = new List<IReadOnlyList<KittiObject>>(items.Count);
        var detections = new List<IReadOnlyList<KittiObject>>(items.Count);
        var outcome = new StepOutcome();
        foreach (var (sample, prediction) in items)
        {
            if (sample.Annotation is not KittiFrameAnnotation annotation)
                throw new InvalidOperationException($"Sample '{sample.Id}' carries no KITTI annotation (label_2 records and calibration); the 'kitti-ap' evaluator scores samples of the 'kitti' dataset only.");
            var geometry = new KittiGeometry(annotation.Calibration);
            var frameDetections = new List<KittiObject>(prediction.Boxes.Count);
            foreach (var box in prediction.Boxes)
            {
                if (box.ClassId < 0 || box.ClassId >= classes.Count)
                    throw new InvalidOperationException($"Sample '{sample.Id}': a predicted box has class id {box.ClassId}, but the dataset has {classes.Count} classes ({string.Join(", ", classes)}).");
                frameDetections.Add(geometry.LidarToCamera(box, classes[box.ClassId], options.ImageWidth, options.ImageHeight));
            }
            groundTruth.Add(annotation.Objects);
            detections.Add(frameDetections);
            if (options.WriteResultFiles)
            {
                var relative = Path.Combine("data", annotation.FrameId + ".txt");
                KittiFiles.WriteLabels(Path.Combine(outputDirectory, relative), frameDetections, withScore: true);
            }
        }
        if (options.WriteResultFiles && items.Count > 0) outcome.Files.Add("data");

        var evidence = KittiObjectEvaluation.Prepare(groundTruth, detections, classes);
        KittiApReport.Fill(outcome, evidence.Compute(null));
        outcome.Resamplable = new KittiApResampling(evidence, items.Select(i => i.Sample.Id).ToArray());
        outcome.Notes.Add($"KITTI AP over {items.Count} frames; detections' 2D boxes clipped to a {options.ImageWidth}x{options.ImageHeight} image; IoU thresholds: {string.Join(", ", classes.Select(c => c + " " + KittiObjectEvaluation.MinOverlap(c).ToString(CultureInfo.InvariantCulture)))}.");
        return outcome;
    }
}

/// <summary>3D and BEV AP (R40, every difficulty, per class and mAP) recomputed with frames counted any number of times: intervals over frames.</summary>
public sealed class KittiApResampling(KittiFrameEvidence evidence, IReadOnlyList<string> frameIds) : IResamplableMetrics
{
    public IReadOnlyList<string> SampleIds => frameIds;

    public IReadOnlyDictionary<string, double> Compute(int[] counts)
    {
        var aps = evidence.Compute(counts, (metric, _) => metric != KittiMetric.Box2D);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, value) in KittiApReport.Metrics(aps).Where(kv => kv.Key.EndsWith("/R40", StringComparison.Ordinal)))
            metrics[key] = value;
        return metrics;
    }
}

/// <summary>AP figures as report metrics and a table (shared by the evaluator and the eval-kitti command).</summary>
public static class KittiApReport
{
    /// <summary>Per-class AP as <c>Class/metric/difficulty/R40|R11</c> and mAP (the mean over the classes that have ground truth at that difficulty).</summary>
    public static IEnumerable<KeyValuePair<string, double>> Metrics(IReadOnlyList<KittiAp> aps)
    {
        foreach (var ap in aps.Where(a => a.GroundTruth > 0))
        {
            var key = $"{ap.Class}/{KittiAp.MetricName(ap.Metric)}/{KittiAp.DifficultyName(ap.Difficulty)}";
            yield return KeyValuePair.Create(key + "/R40", ap.ApR40);
            yield return KeyValuePair.Create(key + "/R11", ap.ApR11);
            if (ap.AosR40 is { } aos40 && ap.AosR11 is { } aos11)
            {
                var aosKey = $"{ap.Class}/aos/{KittiAp.DifficultyName(ap.Difficulty)}";
                yield return KeyValuePair.Create(aosKey + "/R40", aos40);
                yield return KeyValuePair.Create(aosKey + "/R11", aos11);
            }
        }
        foreach (var group in aps.Where(a => a.GroundTruth > 0).GroupBy(a => (a.Metric, a.Difficulty)))
        {
            var key = $"mAP/{KittiAp.MetricName(group.Key.Metric)}/{KittiAp.DifficultyName(group.Key.Difficulty)}";
            yield return KeyValuePair.Create(key + "/R40", group.Average(a => a.ApR40));
            yield return KeyValuePair.Create(key + "/R11", group.Average(a => a.ApR11));
            if (group.Key.Metric == KittiMetric.Box2D && group.All(a => a.AosR40 is not null))
            {
                var aosKey = $"mAOS/{KittiAp.DifficultyName(group.Key.Difficulty)}";
                yield return KeyValuePair.Create(aosKey + "/R40", group.Average(a => a.AosR40!.Value));
                yield return KeyValuePair.Create(aosKey + "/R11", group.Average(a => a.AosR11!.Value));
            }
        }
    }

    public static void Fill(StepOutcome outcome, IReadOnlyList<KittiAp> aps)
    {
        foreach (var (key, value) in Metrics(aps)) outcome.Metrics[key] = value;
        // Precision over the sampled recall positions for the benchmark's headline setting (3D, moderate): plotted by the host.
        foreach (var ap in aps.Where(a => a.GroundTruth > 0 && a.Metric == KittiMetric.Box3D && a.Difficulty == KittiDifficulty.Moderate && a.Precision.Count > 0))
        {
            var recall = Enumerable.Range(0, ap.Precision.Count).Select(i => i / (double)(ap.Precision.Count - 1)).ToArray();
            outcome.Series[$"{ap.Class}/3d/moderate precision-recall"] = new Series("recall position", "interpolated precision", recall, ap.Precision);
        }
        outcome.Tables.Add(Table(aps));
    }

    public static ReportTable Table(IReadOnlyList<KittiAp> aps)
    {
        static string F(KittiAp? a, bool r40) => a is null || a.GroundTruth == 0 ? "-" : (r40 ? a.ApR40 : a.ApR11).ToString("F2", CultureInfo.InvariantCulture);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var cls in aps.Select(a => a.Class).Distinct())
        foreach (var metric in new[] { KittiMetric.Box3D, KittiMetric.Bev, KittiMetric.Box2D })
        {
            KittiAp? Get(KittiDifficulty d) => aps.FirstOrDefault(a => a.Class == cls && a.Metric == metric && a.Difficulty == d);
            var e = Get(KittiDifficulty.Easy);
            var m = Get(KittiDifficulty.Moderate);
            var h = Get(KittiDifficulty.Hard);
            rows.Add([
                cls, KittiAp.MetricName(metric), (m?.MinOverlap ?? 0).ToString("0.0#", CultureInfo.InvariantCulture),
                F(e, true), F(m, true), F(h, true), F(e, false), F(m, false), F(h, false),
                $"{e?.GroundTruth ?? 0}/{m?.GroundTruth ?? 0}/{h?.GroundTruth ?? 0}",
            ]);            if (metric == KittiMetric.Box2D && m?.AosR40 is not null)
            {
                static string Aos(KittiAp? a, bool r40) => a is null || a.GroundTruth == 0 || a.AosR40 is null ? "-"
                    : (r40 ? a.AosR40.Value : a.AosR11!.Value).ToString("F2", CultureInfo.InvariantCulture);
                rows.Add([cls, "aos", "", Aos(e, true), Aos(m, true), Aos(h, true), Aos(e, false), Aos(m, false), Aos(h, false), ""]);
            }
        }
        return new ReportTable("KITTI AP (%)",
            ["Class", "Box", "IoU", "Easy R40", "Moderate R40", "Hard R40", "Easy R11", "Moderate R11", "Hard R11", "GT e/m/h"], rows);
    }

    /// <summary>The table as Markdown, for the console and report files.</summary>
    public static string ToMarkdown(ReportTable table)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("| ").AppendJoin(" | ", table.Columns).Append(" |\n");
        sb.Append('|').AppendJoin('|', table.Columns.Select(_ => "---")).Append("|\n");
        foreach (var row in table.Rows) sb.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        return sb.ToString();
    }
}
