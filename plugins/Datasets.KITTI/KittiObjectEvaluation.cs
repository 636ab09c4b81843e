namespace Platform.Plugins.Datasets.KITTI;

public enum KittiMetric { Box2D, Bev, Box3D }

public enum KittiDifficulty { Easy, Moderate, Hard }

/// <summary>One AP figure: a class, a metric, a difficulty; both the 40- and the 11-recall-point AP (percent).</summary>
public sealed record KittiAp(string Class, KittiMetric Metric, KittiDifficulty Difficulty, double ApR40, double ApR11, int GroundTruth, double MinOverlap)
{
    /// <summary>The interpolated precision at the 41 sampled recall positions (position i is recall ≈ i/40).</summary>
    public IReadOnlyList<double> Precision { get; init; } = [];

    public static string MetricName(KittiMetric m) => m switch { KittiMetric.Box2D => "2d", KittiMetric.Bev => "bev", _ => "3d" };

    public static string DifficultyName(KittiDifficulty d) => d.ToString().ToLowerInvariant();
}

/// <summary>
/// The KITTI object benchmark's evaluation (devkit eval.cpp, as ported in kitti_common/eval.py and used by
/// OpenPCDet): per class and difficulty, ground truth is kept, ignored (neighbouring class, too hard) or
/// dropped; detections are matched greedily by score with IoU strictly above the class threshold;
/// precision is sampled at 41 score thresholds chosen to spread recall evenly, made monotone, and averaged
/// over recall positions 1..40 (R40, the benchmark's figure since 2019) or 0, 4, ..., 40 (R11).
/// </summary>
public static class KittiObjectEvaluation
{
    // Devkit difficulty definitions (eval.cpp: MIN_HEIGHT, MAX_OCCLUSION, MAX_TRUNCATION).
    private static readonly double[] MinHeight = [40, 25, 25];
    private static readonly int[] MaxOcclusion = [0, 1, 2];
    private static readonly double[] MaxTruncation = [0.15, 0.30, 0.50];
    private const int SamplePoints = 41;

    /// <summary>The devkit's IoU thresholds (the "hard" setting of min_overlaps): 0.7 for Car, Van, Truck; 0.5 otherwise.</summary>
    public static double MinOverlap(string cls) =>
        cls.ToLowerInvariant() is "car" or "van" or "truck" ? 0.7 : 0.5;

    /// <summary>Evaluates detections against ground truth, frame by frame (same order in both lists).</summary>
    public static IReadOnlyList<KittiAp> Evaluate(
        IReadOnlyList<IReadOnlyList<KittiObject>> groundTruth,
        IReadOnlyList<IReadOnlyList<KittiObject>> detections,
        IReadOnlyList<string> classes)
    {
        if (groundTruth.Count != detections.Count)
            throw new ArgumentException($"{groundTruth.Count} ground-truth frames but {detections.Count} detection frames.");
        var frames = groundTruth.Count;
        // Overlaps [frame][metric] as [det, gt], computed once for all classes and difficulties.
        var overlaps = new double[frames][][,];
        for (var f = 0; f < frames; f++)
        {
            var gt = groundTruth[f];
            var dt = detections[f];
            overlaps[f] = new double[3][,];
            for (var m = 0; m < 3; m++)
            {
                var o = new double[dt.Count, gt.Count];
                for (var j = 0; j < dt.Count; j++)
                for (var i = 0; i < gt.Count; i++)
                {
                    if (gt[i].IsDontCare) continue; // never matched (ignored_gt = -1); their 3D fields are -1000
                    o[j, i] = (KittiMetric)m switch
                    {
                        KittiMetric.Box2D => RotatedBoxOverlap.ImageOverlap(dt[j], gt[i]),
                        KittiMetric.Bev => RotatedBoxOverlap.BevIou(dt[j], gt[i]),
                        _ => RotatedBoxOverlap.Iou3D(dt[j], gt[i]),
                    };
                }
                overlaps[f][m] = o;
            }
        }

        var results = new List<KittiAp>();
        foreach (var cls in classes)
        {
            var minOverlap = MinOverlap(cls);
            for (var d = 0; d < 3; d++)
            {
                var ignoredGt = new int[frames][];
                var ignoredDt = new int[frames][];
                var dontCare = new List<KittiObject>[frames];
                var validGt = 0;
                for (var f = 0; f < frames; f++)
                {
                    validGt += CleanData(groundTruth[f], detections[f], cls, d, out ignoredGt[f], out ignoredDt[f], out dontCare[f]);
                }
                for (var m = 0; m < 3; m++)
                {
                    var precision = validGt == 0
                        ? new double[SamplePoints]
                        : InterpolatedPrecision(groundTruth, detections, overlaps, m, ignoredGt, ignoredDt, dontCare, minOverlap, validGt);
                    double r40 = 0, r11 = 0;
                    for (var t = 1; t < SamplePoints; t++) r40 += precision[t];
                    for (var t = 0; t < SamplePoints; t += 4) r11 += precision[t];
                    results.Add(new KittiAp(cls, (KittiMetric)m, (KittiDifficulty)d, r40 / 40 * 100, r11 / 11 * 100, validGt, minOverlap) { Precision = precision });
                }
            }
        }
        return results;
    }

    /// <summary>
    /// kitti_common clean_data: ground truth of the class within the difficulty counts (0), of a neighbouring
    /// class (Van for Car, Person_sitting for Pedestrian) or of the class but too hard is ignored (1), the rest
    /// is dropped (-1); detections of the class lower than the minimum height are ignored (1).
    /// </summary>
    internal static int CleanData(IReadOnlyList<KittiObject> gt, IReadOnlyList<KittiObject> dt, string cls, int difficulty,
        out int[] ignoredGt, out int[] ignoredDt, out List<KittiObject> dontCare)
    {
        var name = cls.ToLowerInvariant();
        var valid = 0;
        ignoredGt = new int[gt.Count];
        dontCare = [];
        for (var i = 0; i < gt.Count; i++)
        {
            var g = gt[i];
            var gName = g.Type.ToLowerInvariant();
            var validClass = gName == name ? 1
                : (name == "pedestrian" && gName == "person_sitting") || (name == "car" && gName == "van") ? 0
                : -1;
            var ignore = g.Occluded > MaxOcclusion[difficulty] || g.Truncated > MaxTruncation[difficulty] ||
                         g.BoxHeight2D <= MinHeight[difficulty];
            if (validClass == 1 && !ignore)
            {
                ignoredGt[i] = 0;
                valid++;
            }
            else if (validClass == 0 || (ignore && validClass == 1))
            {
                ignoredGt[i] = 1;
            }
            else
            {
                ignoredGt[i] = -1;
            }
            if (g.IsDontCare) dontCare.Add(g);
        }
        ignoredDt = new int[dt.Count];
        for (var j = 0; j < dt.Count; j++)
        {
            var height = Math.Abs(dt[j].Bottom - dt[j].Top);
            ignoredDt[j] = height < MinHeight[difficulty] ? 1 : dt[j].Type.Equals(cls, StringComparison.OrdinalIgnoreCase) ? 0 : -1;
        }
        return valid;
    }

    /// <summary>Precision at the sampled thresholds, made monotone; R40 averages positions 1..40, R11 positions 0, 4, ..., 40.</summary>
    private static double[] InterpolatedPrecision(
        IReadOnlyList<IReadOnlyList<KittiObject>> gt, IReadOnlyList<IReadOnlyList<KittiObject>> dt, double[][][,] overlaps, int metric,
        int[][] ignoredGt, int[][] ignoredDt, List<KittiObject>[] dontCare, double minOverlap, int validGt)
    {
        // Pass 1: the scores of true positives, to choose the thresholds.
        var tpScores = new List<double>();
        for (var f = 0; f < gt.Count; f++)
        {
            ComputeStatistics(overlaps[f][metric], gt[f], dt[f], ignoredGt[f], ignoredDt[f], dontCare[f], metric, minOverlap, 0, false, tpScores);
        }
        var thresholds = Thresholds(tpScores, validGt);
        // Pass 2: tp, fp, fn at each threshold.
        var precision = new double[SamplePoints];
        for (var t = 0; t < thresholds.Count; t++)
        {
            long tp = 0, fp = 0;
            for (var f = 0; f < gt.Count; f++)
            {
                var s = ComputeStatistics(overlaps[f][metric], gt[f], dt[f], ignoredGt[f], ignoredDt[f], dontCare[f], metric, minOverlap, thresholds[t], true, null);
                tp += s.Tp;
                fp += s.Fp;
            }
            precision[t] = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        }
        // Interpolated precision: max over this and all higher recall positions.
        for (var t = SamplePoints - 2; t >= 0; t--) precision[t] = Math.Max(precision[t], precision[t + 1]);
        return precision;
    }

    /// <summary>kitti_common get_thresholds / eval.cpp getThresholds: scores at which recall passes 0, 1/40, 2/40, ...</summary>
    internal static List<double> Thresholds(List<double> scores, int validGt)
    {
        var sorted = scores.OrderByDescending(s => s).ToArray();
        var thresholds = new List<double>();
        var currentRecall = 0.0;
        for (var i = 0; i < sorted.Length; i++)
        {
            var lRecall = (i + 1) / (double)validGt;
            var rRecall = i < sorted.Length - 1 ? (i + 2) / (double)validGt : lRecall;
            if (rRecall - currentRecall < currentRecall - lRecall && i < sorted.Length - 1) continue;
            thresholds.Add(sorted[i]);
            currentRecall += 1.0 / (SamplePoints - 1.0);
        }
        return thresholds;
    }

    /// <summary>kitti_common compute_statistics_jit for one frame (the similarity/AOS part left out).</summary>
    internal static (int Tp, int Fp, int Fn) ComputeStatistics(
        double[,] overlaps, IReadOnlyList<KittiObject> gt, IReadOnlyList<KittiObject> dt, int[] ignoredGt, int[] ignoredDt,
        List<KittiObject> dontCare, int metric, double minOverlap, double threshold, bool computeFp, List<double>? tpScores)
    {
        const double noDetection = -10000000;
        var assigned = new bool[dt.Count];
        var belowThreshold = new bool[dt.Count];
        if (computeFp)
        {
            for (var j = 0; j < dt.Count; j++) belowThreshold[j] = dt[j].Score < threshold;
        }
        int tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < gt.Count; i++)
        {
            if (ignoredGt[i] == -1) continue;
            var detIdx = -1;
            var validDetection = noDetection;
            var maxOverlap = 0.0;
            var assignedIgnoredDet = false;
            for (var j = 0; j < dt.Count; j++)
            {
                if (ignoredDt[j] == -1 || assigned[j] || belowThreshold[j]) continue;
                var overlap = overlaps[j, i];
                var score = dt[j].Score;
                if (!computeFp && overlap > minOverlap && score > validDetection)
                {
                    detIdx = j;
                    validDetection = score;
                }
                else if (computeFp && overlap > minOverlap && (overlap > maxOverlap || assignedIgnoredDet) && ignoredDt[j] == 0)
                {
                    maxOverlap = overlap;
                    detIdx = j;
                    validDetection = 1;
                    assignedIgnoredDet = false;
                }
                else if (computeFp && overlap > minOverlap && validDetection == noDetection && ignoredDt[j] == 1)
                {
                    detIdx = j;
                    validDetection = 1;
                    assignedIgnoredDet = true;
                }
            }
            if (validDetection == noDetection && ignoredGt[i] == 0)
            {
                fn++;
            }
            else if (validDetection != noDetection && (ignoredGt[i] == 1 || ignoredDt[detIdx] == 1))
            {
                assigned[detIdx] = true;
            }
            else if (validDetection != noDetection)
            {
                tp++;
                tpScores?.Add(dt[detIdx].Score);
                assigned[detIdx] = true;
            }
        }
        if (computeFp)
        {
            for (var j = 0; j < dt.Count; j++)
            {
                if (!(assigned[j] || ignoredDt[j] == -1 || ignoredDt[j] == 1 || belowThreshold[j])) fp++;
            }
            // Unassigned detections mostly inside a DontCare region are not false positives (2D metric, as kitti_common).
            if (metric == (int)KittiMetric.Box2D)
            {
                var inDontCare = 0;
                foreach (var dc in dontCare)
                {
                    for (var j = 0; j < dt.Count; j++)
                    {
                        if (assigned[j] || ignoredDt[j] == -1 || ignoredDt[j] == 1 || belowThreshold[j]) continue;
                        if (RotatedBoxOverlap.ImageOverlap(dt[j], dc, overFirstArea: true) > minOverlap)
                        {
                            assigned[j] = true;
                            inDontCare++;
                        }
                    }
                }
                fp -= inDontCare;
            }
        }
        return (tp, fp, fn);
    }
}
