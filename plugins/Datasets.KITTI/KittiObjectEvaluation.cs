namespace Platform.Plugins.Datasets.KITTI;

public enum KittiMetric { Box2D, Bev, Box3D }

public enum KittiDifficulty { Easy, Moderate, Hard }

/// <summary>One AP figure: a class, a metric, a difficulty; both the 40- and the 11-recall-point AP (percent).</summary>
public sealed record KittiAp(string Class, KittiMetric Metric, KittiDifficulty Difficulty, double ApR40, double ApR11, int GroundTruth, double MinOverlap)
{
    /// <summary>
    /// Average orientation similarity (devkit eval.cpp; Geiger et al. 2012, Eq. 2), R40 and R11, percent: AP with each
    /// true positive weighted by (1 + cos Δα)/2, the agreement of its observation angle with the ground truth's. The
    /// devkit reports it beside the 2D boxes only; null for the other box types.
    /// </summary>
    public double? AosR40 { get; init; }

    public double? AosR11 { get; init; }

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
        IReadOnlyList<string> classes) =>
        Prepare(groundTruth, detections, classes).Compute(null);

    /// <summary>
    /// Matches every frame once for each class, difficulty and metric and keeps what AP needs from each frame, so
    /// that AP can be recomputed cheaply with frames counted any number of times (<see cref="KittiFrameEvidence.Compute"/>).
    /// </summary>
    public static KittiFrameEvidence Prepare(
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

        var settings = new List<KittiSettingEvidence>();
        foreach (var cls in classes)
        {
            var minOverlap = MinOverlap(cls);
            for (var d = 0; d < 3; d++)
            {
                var ignoredGt = new int[frames][];
                var ignoredDt = new int[frames][];
                var dontCare = new List<KittiObject>[frames];
                var validGt = new int[frames];
                for (var f = 0; f < frames; f++)
                {
                    validGt[f] = CleanData(groundTruth[f], detections[f], cls, d, out ignoredGt[f], out ignoredDt[f], out dontCare[f]);
                }
                for (var m = 0; m < 3; m++)
                {
                    settings.Add(SettingEvidence(cls, (KittiMetric)m, (KittiDifficulty)d, minOverlap, groundTruth, detections, overlaps, ignoredGt, ignoredDt, dontCare, validGt));
                }
            }
        }
        return new KittiFrameEvidence(frames, settings);
    }

    /// <summary>
    /// What AP needs from each frame for one setting: the scores of its true positives when every detection counts
    /// (pass 1, which chooses the thresholds), and how its tp and fp counts change as the threshold falls past each
    /// of its detections' scores (pass 2 at any threshold is then a sum over these steps).
    /// </summary>
    private static KittiSettingEvidence SettingEvidence(string cls, KittiMetric metric, KittiDifficulty difficulty, double minOverlap,
        IReadOnlyList<IReadOnlyList<KittiObject>> gt, IReadOnlyList<IReadOnlyList<KittiObject>> dt, double[][][,] overlaps,
        int[][] ignoredGt, int[][] ignoredDt, List<KittiObject>[] dontCare, int[] validGt)
    {
        var m = (int)metric;
        var tpScores = new List<(double Score, int Frame)>();
        var steps = new List<(double Score, int Frame, int Tp, int Fp, double Similarity)>();
        var frameScores = new List<double>();
        for (var f = 0; f < gt.Count; f++)
        {
            if (validGt[f] == 0 && ignoredDt[f].All(i => i == -1)) continue; // nothing of this class here: no tp, no fp
            frameScores.Clear();
            ComputeStatistics(overlaps[f][m], gt[f], dt[f], ignoredGt[f], ignoredDt[f], dontCare[f], m, minOverlap, 0, false, frameScores);
            foreach (var score in frameScores) tpScores.Add((score, f));
            // Thresholds only matter where a detection of the class (ignored or not) enters: at each distinct score, highest first.
            var scores = Enumerable.Range(0, dt[f].Count).Where(j => ignoredDt[f][j] != -1).Select(j => dt[f][j].Score).Distinct().OrderDescending();
            int tp = 0, fp = 0;
            double similarity = 0;
            foreach (var threshold in scores)
            {
                var s = ComputeStatistics(overlaps[f][m], gt[f], dt[f], ignoredGt[f], ignoredDt[f], dontCare[f], m, minOverlap, threshold, true, null);
                if (s.Tp != tp || s.Fp != fp || s.Similarity != similarity) steps.Add((threshold, f, s.Tp - tp, s.Fp - fp, s.Similarity - similarity));
                tp = s.Tp;
                fp = s.Fp;
                similarity = s.Similarity;
            }
        }
        return new KittiSettingEvidence(cls, metric, difficulty, minOverlap, validGt,
            tpScores.OrderByDescending(t => t.Score).ToArray(), steps.OrderByDescending(t => t.Score).ToArray());
    }

    /// <summary>AP of one setting with frame f counted counts[f] times (all once when null); pass 2 walks the steps once.</summary>
    internal static KittiAp Ap(KittiSettingEvidence e, int[]? counts)
    {
        int Count(int frame) => counts is null ? 1 : counts[frame];
        var validGt = 0;
        for (var f = 0; f < e.ValidGt.Length; f++) validGt += e.ValidGt[f] * Count(f);
        var precision = new double[SamplePoints];
        var orientation = new double[SamplePoints];
        if (validGt > 0)
        {
            var scores = new List<double>(e.TpScores.Length);
            foreach (var (score, frame) in e.TpScores)
            {
                for (var c = Count(frame); c > 0; c--) scores.Add(score);
            }
            var thresholds = ThresholdsOfSorted(scores, validGt);
            long tp = 0, fp = 0;
            double similarity = 0;
            var next = 0;
            for (var t = 0; t < thresholds.Count; t++)
            {
                // Every detection scoring at least the threshold counts; steps are ordered by falling score.
                for (; next < e.Steps.Length && e.Steps[next].Score >= thresholds[t]; next++)
                {
                    var c = Count(e.Steps[next].Frame);
                    tp += (long)c * e.Steps[next].Tp;
                    fp += (long)c * e.Steps[next].Fp;
                    similarity += c * e.Steps[next].Similarity;
                }
                precision[t] = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
                orientation[t] = tp + fp == 0 ? 0 : similarity / (tp + fp);
            }
            // Interpolated precision (and orientation similarity, as the devkit does): max over this and all higher recall positions.
            for (var t = SamplePoints - 2; t >= 0; t--)
            {
                precision[t] = Math.Max(precision[t], precision[t + 1]);
                orientation[t] = Math.Max(orientation[t], orientation[t + 1]);
            }
        }
        var ap = new KittiAp(e.Class, e.Metric, e.Difficulty, R40(precision), R11(precision), validGt, e.MinOverlap) { Precision = precision };
        return e.Metric == KittiMetric.Box2D ? ap with { AosR40 = R40(orientation), AosR11 = R11(orientation) } : ap;
    }

    /// <summary>The mean over recall positions 1..40 (R40) or 0, 4, ..., 40 (R11), in percent.</summary>
    private static double R40(double[] sampled)
    {
        double sum = 0;
        for (var t = 1; t < SamplePoints; t++) sum += sampled[t];
        return sum / 40 * 100;
    }

    private static double R11(double[] sampled)
    {
        double sum = 0;
        for (var t = 0; t < SamplePoints; t += 4) sum += sampled[t];
        return sum / 11 * 100;
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
            // Strictly below, as the devkit's evaluate_object_3d_offline.cpp (the Python ports use <=; issue 15 §8).
            var ignore = g.Occluded > MaxOcclusion[difficulty] || g.Truncated > MaxTruncation[difficulty] ||
                         g.BoxHeight2D < MinHeight[difficulty];
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

    /// <summary>kitti_common get_thresholds / eval.cpp getThresholds: scores (sorted highest first) at which recall passes 0, 1/40, 2/40, ...</summary>
    private static List<double> ThresholdsOfSorted(IReadOnlyList<double> sorted, int validGt)
    {
        var thresholds = new List<double>();
        var currentRecall = 0.0;
        for (var i = 0; i < sorted.Count; i++)
        {
            var lRecall = (i + 1) / (double)validGt;
            var rRecall = i < sorted.Count - 1 ? (i + 2) / (double)validGt : lRecall;
            if (rRecall - currentRecall < currentRecall - lRecall && i < sorted.Count - 1) continue;
            thresholds.Add(sorted[i]);
            currentRecall += 1.0 / (SamplePoints - 1.0);
        }
        return thresholds;
    }

    /// <summary>
    /// kitti_common compute_statistics_jit for one frame. Similarity: the sum of (1 + cos(α_gt - α_det))/2 over the true
    /// positives (false positives add 0), which AOS divides by tp + fp.
    /// </summary>
    internal static (int Tp, int Fp, int Fn, double Similarity) ComputeStatistics(
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
        double similarity = 0;
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
                similarity += (1 + Math.Cos(gt[i].Alpha - dt[detIdx].Alpha)) / 2;
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
        return (tp, fp, fn, similarity);
    }
}

/// <summary>One setting's per-frame evidence (see <c>KittiObjectEvaluation.SettingEvidence</c>).</summary>
internal sealed record KittiSettingEvidence(string Class, KittiMetric Metric, KittiDifficulty Difficulty, double MinOverlap, int[] ValidGt,
    (double Score, int Frame)[] TpScores, (double Score, int Frame, int Tp, int Fp, double Similarity)[] Steps);

/// <summary>Every setting's per-frame evidence of one evaluation: AP for any counting of the frames.</summary>
public sealed class KittiFrameEvidence
{
    private readonly IReadOnlyList<KittiSettingEvidence> _settings;

    internal KittiFrameEvidence(int frames, IReadOnlyList<KittiSettingEvidence> settings)
    {
        Frames = frames;
        _settings = settings;
    }

    public int Frames { get; }

    /// <summary>AP of every setting (or of those <paramref name="include"/> keeps) with frame f counted counts[f] times; null counts each once.</summary>
    public IReadOnlyList<KittiAp> Compute(int[]? counts, Func<KittiMetric, KittiDifficulty, bool>? include = null)
    {
        if (counts is not null && counts.Length != Frames) throw new ArgumentException($"{counts.Length} counts for {Frames} frames.");
        return _settings.Where(s => include?.Invoke(s.Metric, s.Difficulty) ?? true).Select(s => KittiObjectEvaluation.Ap(s, counts)).ToArray();
    }
}
