using Platform.Plugins.Datasets.KITTI;

namespace Platform.Plugins.Datasets.KITTI.Tests;

/// <summary>
/// AP on cases small enough to follow the devkit by hand. The devkit samples precision at score thresholds
/// chosen so that recall passes 0, 1/40, ..., 1 (getThresholds); with n ground-truth objects found in score
/// order, it takes the first detection and then every (n/40)-th, so n = 80 fills all 41 positions.
/// </summary>
public class KittiEvaluationTests
{
    private static readonly string[] Classes = ["Car", "Pedestrian", "Cyclist"];

    // An easy car: 2D box 100 px tall, not truncated or occluded, 20 m ahead.
    private static KittiObject Car(float x = 0, float z = 20, float top = 100) =>
        new("Car", 0, 0, 0, 500, top, 600, top + 100, 1.5f, 1.6f, 3.9f, x, 1.7f, z, 0);

    private static KittiObject Detection(KittiObject gt, float score, string? type = null) =>
        gt with { Score = score, Type = type ?? gt.Type };

    private static KittiAp Ap(IReadOnlyList<KittiAp> aps, string cls, KittiMetric metric, KittiDifficulty difficulty) =>
        aps.Single(a => a.Class == cls && a.Metric == metric && a.Difficulty == difficulty);

    private static (List<IReadOnlyList<KittiObject>> Gt, List<IReadOnlyList<KittiObject>> Dt) Frames(int n, Func<int, (KittiObject[] Gt, KittiObject[] Dt)> frame)
    {
        var gt = new List<IReadOnlyList<KittiObject>>();
        var dt = new List<IReadOnlyList<KittiObject>>();
        for (var i = 0; i < n; i++)
        {
            var (g, d) = frame(i);
            gt.Add(g);
            dt.Add(d);
        }
        return (gt, dt);
    }

    [Test]
    public void Perfect_detections_of_eighty_cars_give_100_in_every_metric_and_difficulty()
    {
        var (gt, dt) = Frames(80, i => ([Car()], [Detection(Car(), 0.5f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        foreach (var ap in aps.Where(a => a.Class == "Car"))
        {
            Assert.That(ap.ApR40, Is.EqualTo(100).Within(1e-9), ap.ToString());
            Assert.That(ap.ApR11, Is.EqualTo(100).Within(1e-9), ap.ToString());
            Assert.That(ap.GroundTruth, Is.EqualTo(80));
        }
        Assert.That(aps.Where(a => a.Class != "Car").All(a => a.GroundTruth == 0 && a.ApR40 == 0), "no pedestrians or cyclists");
    }

    [Test]
    public void Finding_one_of_two_cars_per_frame_gives_R40_50_and_R11_6_of_11()
    {
        // 160 cars, 80 found: thresholds at recall 1/160, 4/160, 8/160, ..., 80/160 -> 21 positions (0..20) with
        // precision 1. R40 = 20/40; R11 uses positions 0, 4, ..., 20: 6 of 11.
        var (gt, dt) = Frames(80, i => ([Car(x: -4), Car(x: 4)], [Detection(Car(x: -4), 0.5f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        var ap = Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate);
        Assert.That(ap.ApR40, Is.EqualTo(50).Within(1e-9));
        Assert.That(ap.ApR11, Is.EqualTo(600.0 / 11).Within(1e-9));
        Assert.That(ap.Precision, Is.EqualTo(Enumerable.Range(0, 41).Select(i => i <= 20 ? 1.0 : 0.0)));
    }

    [TestCase(0.0, 100.0)]
    [TestCase(Math.PI / 2, 50.0)]   // (1 + cos 90°) / 2 = 0.5 per true positive
    [TestCase(Math.PI, 0.0)]        // facing the other way: a true positive, but no orientation credit
    public void Aos_weights_each_true_positive_by_its_orientation_similarity(double angleError, double expectedAos)
    {
        var (gt, dt) = Frames(80, i => ([Car()], [Detection(Car(), 0.5f + i / 200f) with { Alpha = Car().Alpha + (float)angleError }]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        var box2d = Ap(aps, "Car", KittiMetric.Box2D, KittiDifficulty.Moderate);
        Assert.That(box2d.ApR40, Is.EqualTo(100).Within(1e-9));
        Assert.That(box2d.AosR40!.Value, Is.EqualTo(expectedAos).Within(1e-4));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).AosR40, Is.Null, "the devkit reports AOS beside 2D boxes only");
    }

    [Test]
    public void Aos_counts_false_positives_as_zero_similarity_and_is_interpolated_like_precision()
    {
        // Half the ground truth found, with a 60° error (similarity 0.75): precision 1 up to recall 1/2, so AP R40 = 50
        // and AOS R40 = 0.75 * 50.
        var (gt, dt) = Frames(80, i => ([Car(x: -4), Car(x: 4)], [Detection(Car(x: -4), 0.5f + i / 200f) with { Alpha = Car().Alpha + (float)(Math.PI / 3) }]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        var box2d = Ap(aps, "Car", KittiMetric.Box2D, KittiDifficulty.Moderate);
        Assert.That(box2d.ApR40, Is.EqualTo(50).Within(1e-9));
        Assert.That(box2d.AosR40!.Value, Is.EqualTo(37.5).Within(1e-4));
        Assert.That(box2d.AosR11!.Value, Is.EqualTo(0.75 * 600.0 / 11).Within(1e-4));
    }

    [Test]
    public void The_report_metrics_name_aos_per_class_and_its_mean()
    {
        var (gt, dt) = Frames(80, i => ([Car()], [Detection(Car(), 0.5f + i / 200f) with { Alpha = Car().Alpha + (float)(Math.PI / 2) }]));
        var metrics = KittiApReport.Metrics(KittiObjectEvaluation.Evaluate(gt, dt, Classes)).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.That(metrics["Car/aos/moderate/R40"], Is.EqualTo(50).Within(1e-4));
        Assert.That(metrics["mAOS/moderate/R40"], Is.EqualTo(50).Within(1e-4), "only Car has ground truth here");
        Assert.That(metrics["Car/2d/moderate/R40"], Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void A_single_perfect_detection_scores_as_the_devkit_samples_it()
    {
        // One object: one threshold, stored at recall position 0; R40 skips position 0, R11 counts it once.
        var aps = KittiObjectEvaluation.Evaluate([[Car()]], [[Detection(Car(), 0.9f)]], Classes);
        var ap = Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Easy);
        Assert.That(ap.ApR40, Is.EqualTo(0));
        Assert.That(ap.ApR11, Is.EqualTo(100.0 / 11).Within(1e-9));
    }

    [TestCase(0.2751f, 0.0)]   // 3D IoU (1.5 - d) / (1.5 + d) = 0.6899: just under 0.7 -> every detection a false positive
    [TestCase(0.2544f, 100.0)] // 0.7101: just over -> all true positives
    public void A_detection_just_under_the_IoU_threshold_is_a_false_positive(float drop, double expected3d)
    {
        var (gt, dt) = Frames(80, i => ([Car()], [Detection(Car() with { Y = 1.7f + drop }, 0.5f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).ApR40, Is.EqualTo(expected3d).Within(1e-9));
        // Sliding in Y leaves the bird's-eye view (and the 2D box) untouched.
        Assert.That(Ap(aps, "Car", KittiMetric.Bev, KittiDifficulty.Moderate).ApR40, Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void A_car_detection_on_a_van_is_neither_a_true_nor_a_false_positive()
    {
        var van = Car(x: 6) with { Type = "Van" };
        var (gt, dt) = Frames(80, i => ([Car(), van], [Detection(Car(), 0.5f + i / 200f), Detection(van, 0.99f, "Car")]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).ApR40, Is.EqualTo(100).Within(1e-9));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).GroundTruth, Is.EqualTo(80), "vans are not counted as cars");
    }

    [Test]
    public void A_detection_in_a_DontCare_region_is_forgiven_in_2D_but_is_a_false_positive_in_BEV()
    {
        // The extra detection scores above every true one, so at every threshold there are 80 of them. In BEV the
        // precision at the last threshold is 80 / (80 + 80) and interpolation carries it to every position: 50.
        var dontCare = new KittiObject("DontCare", -1, -1, -10, 800, 100, 900, 200, -1, -1, -1, -1000, -1000, -1000, -10);
        var stray = Car(x: 8) with { Left = 810, Right = 890, Score = 0.99f };
        var (gt, dt) = Frames(80, i => ([Car(), dontCare], [Detection(Car(), 0.5f + i / 200f), stray]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box2D, KittiDifficulty.Moderate).ApR40, Is.EqualTo(100).Within(1e-9));
        Assert.That(Ap(aps, "Car", KittiMetric.Bev, KittiDifficulty.Moderate).ApR40, Is.EqualTo(50).Within(1e-9));
    }

    [Test]
    public void Difficulty_follows_box_height_occlusion_and_truncation()
    {
        // Occlusion 1, 30 px tall: too hard for easy (needs 0 and 40 px), counted in moderate and hard.
        var partly = Car(top: 100) with { Occluded = 1, Bottom = 130 };
        // Truncation 0.4: only hard (max 0.15 / 0.30 / 0.50).
        var truncated = Car(x: 6) with { Truncated = 0.4f };
        var (gt, dt) = Frames(80, i => ([partly, truncated], [Detection(partly, 0.5f + i / 200f), Detection(truncated, 0.1f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Easy).GroundTruth, Is.EqualTo(0));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).GroundTruth, Is.EqualTo(80));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Hard).GroundTruth, Is.EqualTo(160));
        // In moderate the truncated car is ignored, so its detection is neither TP nor FP.
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).ApR40, Is.EqualTo(100).Within(1e-9));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Hard).ApR40, Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void A_ground_truth_exactly_at_the_minimum_height_counts_as_the_devkit_counts_it()
    {
        // 40 px tall: easy's minimum. evaluate_object_3d_offline.cpp ignores only height < MIN_HEIGHT, so it is easy.
        var atMinimum = Car(top: 100) with { Bottom = 140 };
        var justBelow = Car(x: 6, top: 100) with { Bottom = 139.9f };
        var (gt, dt) = Frames(10, _ => ([atMinimum, justBelow], [Detection(atMinimum, 0.9f), Detection(justBelow, 0.8f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Easy).GroundTruth, Is.EqualTo(10));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Moderate).GroundTruth, Is.EqualTo(20));
    }

    [Test]
    public void Detections_lower_than_the_minimum_height_are_ignored_not_false_positives()
    {
        // A 20 px tall stray detection (below 25 px) with the highest score does not lower precision.
        var stray = Car(x: 8, z: 60) with { Top = 100, Bottom = 120, Score = 0.99f };
        var (gt, dt) = Frames(80, i => ([Car()], [Detection(Car(), 0.5f + i / 200f), stray]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Hard).ApR40, Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void Pedestrians_use_IoU_half_and_cars_seven_tenths()
    {
        Assert.That(KittiObjectEvaluation.MinOverlap("Car"), Is.EqualTo(0.7));
        Assert.That(KittiObjectEvaluation.MinOverlap("Pedestrian"), Is.EqualTo(0.5));
        Assert.That(KittiObjectEvaluation.MinOverlap("Cyclist"), Is.EqualTo(0.5));
        // A pedestrian detection at 3D IoU 0.6 is a true positive (it would be a false positive for a car).
        var ped = new KittiObject("Pedestrian", 0, 0, 0, 500, 100, 540, 200, 1.6f, 0.6f, 0.8f, 0, 1.7f, 10, 0);
        var d = 1.6f * (1 - 0.6f) / 1.6f; // (h - d) / (h + d) = 0.6 -> d = h * 0.4 / 1.6
        var (gt, dt) = Frames(80, i => ([ped], [Detection(ped with { Y = 1.7f + d }, 0.5f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        Assert.That(Ap(aps, "Pedestrian", KittiMetric.Box3D, KittiDifficulty.Moderate).ApR40, Is.EqualTo(100).Within(1e-9));
    }

    [Test]
    public void Report_metrics_name_class_box_difficulty_and_recall_points_and_mAP_averages_only_classes_with_ground_truth()
    {
        KittiAp A(string cls, KittiMetric m, KittiDifficulty d, double r40, int gt) => new(cls, m, d, r40, r40 / 2, gt, 0.5);
        var aps = new List<KittiAp>
        {
            A("Car", KittiMetric.Box3D, KittiDifficulty.Moderate, 80, 10),
            A("Pedestrian", KittiMetric.Box3D, KittiDifficulty.Moderate, 40, 5),
            A("Cyclist", KittiMetric.Box3D, KittiDifficulty.Moderate, 0, 0),
        };
        var outcome = new Platform.Abstractions.Pipeline.StepOutcome();
        KittiApReport.Fill(outcome, aps);
        Assert.That(outcome.Metrics["Car/3d/moderate/R40"], Is.EqualTo(80));
        Assert.That(outcome.Metrics["Pedestrian/3d/moderate/R11"], Is.EqualTo(20));
        Assert.That(outcome.Metrics.ContainsKey("Cyclist/3d/moderate/R40"), Is.False, "no cyclists: no figure rather than a zero");
        Assert.That(outcome.Metrics["mAP/3d/moderate/R40"], Is.EqualTo(60));
        Assert.That(outcome.Tables.Single().Rows.Single(r => r[0] == "Cyclist" && r[1] == "3d")[4], Is.EqualTo("-"));
    }

    [Test]
    public void A_truncation_of_exactly_0_15_read_from_a_label_file_is_still_easy()
    {
        // The devkit reads fields as doubles: 0.15 is not above the easy limit 0.15 (as a float it would be 0.150000006).
        var gt = KittiFiles.ParseLabelLine("Car 0.15 0 0.00 500.00 100.00 600.00 200.00 1.50 1.60 3.90 0.00 1.70 20.00 0.00", "label", 1);
        var (gts, dts) = Frames(80, i => ([gt], [Detection(gt, 0.5f + i / 200f)]));
        var aps = KittiObjectEvaluation.Evaluate(gts, dts, Classes);
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Easy).GroundTruth, Is.EqualTo(80));
        Assert.That(Ap(aps, "Car", KittiMetric.Box3D, KittiDifficulty.Easy).ApR40, Is.EqualTo(100).Within(1e-9));
    }

    // Frames 400-419 of the synthetic set with seed 0 and detections of them: Fixtures/devkit-reference/README.md.
    private static string DevkitReferenceFolder => Path.Combine(Platform.TestKit.TestPaths.RepoRoot, "tests", "Datasets.KITTI.Tests", "Fixtures", "devkit-reference");

    private static (List<IReadOnlyList<KittiObject>> Gt, List<IReadOnlyList<KittiObject>> Dt) DevkitReferenceFrames()
    {
        var ids = Enumerable.Range(400, 20).Select(i => i.ToString("D6")).ToArray();
        List<IReadOnlyList<KittiObject>> Read(string file)
        {
            var lines = File.ReadAllLines(Path.Combine(DevkitReferenceFolder, file));
            return ids.Select(id => (IReadOnlyList<KittiObject>)lines.Where(l => l.StartsWith(id + " ", StringComparison.Ordinal))
                .Select((l, n) => KittiFiles.ParseLabelLine(l[(id.Length + 1)..], file, n + 1)).ToList()).ToList();
        }
        return (Read("ground-truth.txt"), Read("detections.txt"));
    }

    [Test]
    public void Devkit_reference_figures_are_reproduced()
    {
        var (gt, dt) = DevkitReferenceFrames();
        Assert.That(gt.Sum(g => g.Count), Is.EqualTo(File.ReadAllLines(Path.Combine(DevkitReferenceFolder, "ground-truth.txt")).Length));
        var aps = KittiObjectEvaluation.Evaluate(gt, dt, Classes);
        var checkedFigures = 0;
        foreach (var line in File.ReadAllLines(Path.Combine(DevkitReferenceFolder, "reference-ap.txt")))
        {
            // "Car/3d/moderate R40 26.3745 R11 31.4920"
            var f = line.Split(' ');
            var key = f[0].Split('/');
            var metric = key[1] switch { "2d" => KittiMetric.Box2D, "bev" => KittiMetric.Bev, _ => KittiMetric.Box3D };
            var ap = Ap(aps, key[0], metric, Enum.Parse<KittiDifficulty>(key[2], ignoreCase: true));
            Assert.That(ap.ApR40, Is.EqualTo(double.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)).Within(1e-3), line);
            Assert.That(ap.ApR11, Is.EqualTo(double.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture)).Within(1e-3), line);
            checkedFigures += 2;
        }
        Assert.That(checkedFigures, Is.EqualTo(54));
    }

    [Test]
    public void Counting_frames_several_times_gives_the_AP_of_the_list_with_those_frames_repeated()
    {
        // The devkit reference frames, each counted 0, 1, 2 or 3 times, against the same frames written out repeated.
        var (gt, dt) = DevkitReferenceFrames();
        var counts = Enumerable.Range(0, gt.Count).Select(i => (i * 7 + 3) % 4).ToArray();
        var repeatedGt = new List<IReadOnlyList<KittiObject>>();
        var repeatedDt = new List<IReadOnlyList<KittiObject>>();
        for (var f = 0; f < gt.Count; f++)
        for (var c = 0; c < counts[f]; c++)
        {
            repeatedGt.Add(gt[f]);
            repeatedDt.Add(dt[f]);
        }
        var expected = KittiObjectEvaluation.Evaluate(repeatedGt, repeatedDt, Classes);
        var evidence = KittiObjectEvaluation.Prepare(gt, dt, Classes);
        var actual = evidence.Compute(counts);
        Assert.That(actual, Has.Count.EqualTo(expected.Count));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.That(actual[i].ApR40, Is.EqualTo(expected[i].ApR40).Within(1e-9), $"{expected[i].Class} {expected[i].Metric} {expected[i].Difficulty}");
            Assert.That(actual[i].ApR11, Is.EqualTo(expected[i].ApR11).Within(1e-9));
            Assert.That(actual[i].GroundTruth, Is.EqualTo(expected[i].GroundTruth));
        }
        Assert.That(expected.Select(a => a.ApR40).Distinct().Count(), Is.GreaterThan(5), "the case is not degenerate");
        Assert.That(actual.Select(a => a.ApR40), Is.Not.EqualTo(evidence.Compute(null).Select(a => a.ApR40)), "the counts change the figures");
    }
}
