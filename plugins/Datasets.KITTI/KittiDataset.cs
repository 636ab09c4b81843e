using Microsoft.Extensions.Logging;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>
/// The KITTI 3D object layout read from disk, frame by frame: points in the lidar frame (cropped to the
/// range and the camera's field of view), the configured classes' boxes converted to the lidar frame,
/// and the full label_2 records with the calibration as the annotation for the "kitti-ap" evaluator.
/// </summary>
public sealed class KittiDataset : IDataset
{
    private readonly KittiOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, KittiSplit> _splits = new(StringComparer.Ordinal);
    private readonly string _root;

    public KittiDataset(KittiOptions options, RunServices services)
    {
        _options = options;
        _logger = services.CreateLogger("kitti");
        OptionsValidation.Check(options, "dataset 'kitti'");
        _root = Path.GetFullPath(options.Root);
        var missing = !Directory.Exists(_root) || !Directory.EnumerateFileSystemEntries(_root).Any();
        if (missing)
        {
            if (!options.Synthetic)
                throw new KittiFormatException($"KITTI root '{_root}' (option Root) does not exist or is empty. Point Root at a KITTI object tree, or set Synthetic=true to generate the synthetic KITTI-format set there.");
            _logger.LogInformation("Generating the synthetic KITTI-format set ({Splits}, seed {Seed}) at {Root}", options.SyntheticSplits, options.SyntheticSeed, _root);
            SyntheticKittiScenes.GenerateTree(_root, options.SyntheticSplits, options.SyntheticSeed, services.Progress);
        }
        else if (options.Synthetic && SyntheticKittiScenes.ReadProvenance(_root) is { } made &&
                 (made.Splits != options.SyntheticSplits || made.Seed != options.SyntheticSeed))
        {
            // Reusing is the point of the embedded default, but a set of other splits would silently change every figure.
            throw new KittiFormatException(
                $"The synthetic KITTI set at '{_root}' (option Root) was made with {made.Splits}, seed {made.Seed}, but the options ask for " +
                $"{options.SyntheticSplits}, seed {options.SyntheticSeed}. Delete the folder to regenerate it, or point Root at another folder.");
        }
        var imageSets = Path.Combine(_root, "ImageSets");
        if (!Directory.Exists(imageSets))
            throw new KittiFormatException($"{imageSets}: folder is missing; a KITTI root needs ImageSets/train.txt, val.txt (test.txt).");
        Splits = Directory.GetFiles(imageSets, "*.txt").Select(Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        if (Splits.Count == 0) throw new KittiFormatException($"{imageSets}: no split files (*.txt) found.");
        Info = new DatasetInfo("kitti", ModelTask.Detection3D, options.Classes, 4, options.PointCloudRange);
    }

    public DatasetInfo Info { get; }

    public IReadOnlyDictionary<string, string> Provenance
    {
        get
        {
            var p = new Dictionary<string, string>(StringComparer.Ordinal) { ["root"] = _root };
            if (SyntheticKittiScenes.ReadProvenance(_root) is { } made)
            {
                p["syntheticSeed"] = made.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
                p["syntheticSplits"] = made.Splits.ToString();
            }
            foreach (var split in Splits)
                p["frames/" + split] = KittiFiles.ReadImageSet(Path.Combine(_root, "ImageSets", split + ".txt")).Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return p;
        }
    }
    public IReadOnlyList<string> Splits { get; }
    public string DefaultEvaluator => "kitti-ap";

    /// <summary>Frames skipped as bad so far (SkipBadFrames), over all splits opened.</summary>
    public int SkippedFrames => _splits.Values.Sum(s => s.Skipped.Count);

    public IReadOnlyDictionary<string, double> InputCounts
    {
        get
        {
            lock (_splits)
            {
                var splits = _splits.Values.ToList();
                return new Dictionary<string, double>
                {
                    ["skippedFrames"] = splits.Sum(s => s.Skipped.Count),
                    ["nonFinitePointsDropped"] = splits.Sum(s => s.NonFinite.Points),
                    ["framesWithNonFinitePoints"] = splits.Sum(s => s.NonFinite.Frames),
                };
            }
        }
    }

    public ISampleSource GetSplit(string split)
    {
        lock (_splits)
        {
            if (_splits.TryGetValue(split, out var existing)) return existing;
            if (!Splits.Contains(split))
                throw new KeyNotFoundException($"KITTI split '{split}' does not exist under {Path.Combine(_root, "ImageSets")}; available: {string.Join(", ", Splits)}.");
            var created = new KittiSplit(split, _root, _options, _logger);
            _splits[split] = created;
            return created;
        }
    }
}

/// <summary>One split (a list of frame ids); each sample is read from disk when asked for.</summary>
internal sealed class KittiSplit : ISampleSource
{
    private readonly string _frameRoot;
    private readonly KittiOptions _options;
    private readonly string[] _ids;

    public KittiSplit(string name, string root, KittiOptions options, ILogger logger)
    {
        Name = name;
        _options = options;
        // The benchmark's test frames live under testing/ (no labels); a custom split falls back to training/.
        var testing = Path.Combine(root, "testing");
        _frameRoot = name == "test" && Directory.Exists(testing) ? testing : Path.Combine(root, "training");
        HasLabels = Directory.Exists(Path.Combine(_frameRoot, "label_2"));
        var listed = KittiFiles.ReadImageSet(Path.Combine(root, "ImageSets", name + ".txt"));
        var kept = new List<string>(listed.Count);
        foreach (var id in listed)
        {
            var problem = Check(id);
            if (problem is null)
            {
                kept.Add(id);
                continue;
            }
            if (!options.SkipBadFrames)
                throw new KittiFormatException(problem + " (set SkipBadFrames=true to skip bad frames with a warning)");
            logger.LogWarning("Skipping KITTI frame {Id} of split {Split}: {Problem}", id, name, problem);
            Skipped.Add((id, problem));
        }
        if (Skipped.Count > 0) logger.LogWarning("Split {Split}: skipped {Count} of {Total} frames as bad.", name, Skipped.Count, listed.Count);
        _ids = kept.ToArray();
    }

    public string Name { get; }
    public int Count => _ids.Length;
    public List<(string Id, string Problem)> Skipped { get; } = [];
    public IReadOnlyList<string> FrameIds => _ids;

    // By frame, so that a frame read every epoch counts once.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _nonFiniteByFrame = new(StringComparer.Ordinal);

    /// <summary>Points dropped for a NaN or infinite value, and the frames they were in, over the frames read so far.</summary>
    public (long Points, int Frames) NonFinite => (_nonFiniteByFrame.Values.Sum(v => (long)v), _nonFiniteByFrame.Count);

    /// <summary>
    /// Cheap whole-split check before training starts: files present, the scan's size a multiple of 16,
    /// labels and calibration parse. The points themselves are only read in <see cref="Get"/>.
    /// </summary>
    private string? Check(string id)
    {
        try
        {
            var bin = VelodynePath(id);
            if (!File.Exists(bin)) return $"{bin}: velodyne file of frame {id} is missing.";
            var size = new FileInfo(bin).Length;
            if (size % 16 != 0) return $"{bin}: size {size} bytes is not a multiple of 16 (4 float32 per point).";
            KittiFiles.ReadCalibration(CalibPath(id));
            if (HasLabels) KittiFiles.ReadLabels(LabelPath(id));
            return null;
        }
        catch (KittiFormatException e)
        {
            return e.Message;
        }
    }

    internal bool HasLabels { get; }
    internal string VelodynePath(string id) => Path.Combine(_frameRoot, "velodyne", id + ".bin");
    private string CalibPath(string id) => Path.Combine(_frameRoot, "calib", id + ".txt");
    private string LabelPath(string id) => Path.Combine(_frameRoot, "label_2", id + ".txt");

    public Sample Get(int index)
    {
        var id = _ids[index];
        var calibration = KittiFiles.ReadCalibration(CalibPath(id));
        var objects = HasLabels ? KittiFiles.ReadLabels(LabelPath(id)) : [];
        var geometry = new KittiGeometry(calibration);
        var points = PointCrop.Apply(KittiFiles.ReadVelodyne(VelodynePath(id)), geometry, _options, out var nonFinite);
        if (nonFinite > 0) _nonFiniteByFrame[id] = nonFinite;
        if (_options.MaxPoints > 0) points = PointCrop.Subsample(points, _options.MaxPoints, StableHash.Of(id));

        var range = _options.PointCloudRange;
        var boxes = new List<Box3D>();
        foreach (var o in objects)
        {
            var classId = Array.FindIndex(_options.Classes, c => c.Equals(o.Type, StringComparison.OrdinalIgnoreCase));
            if (classId < 0) continue;
            var box = geometry.CameraToLidar(o, classId);
            // Training targets only for boxes whose centre lies in the range (OpenPCDet's mask_boxes_outside_range).
            if (box.X < range[0] || box.X >= range[3] || box.Y < range[1] || box.Y >= range[4]) continue;
            boxes.Add(box);
        }
        return new Sample
        {
            Id = id,
            Points = points,
            PointFeatures = 4,
            Boxes = boxes,
            Annotation = new KittiFrameAnnotation(id, objects, calibration),
        };
    }
}

/// <summary>The range and camera field-of-view crops, over the raw float array (one pass, no allocation per point).</summary>
public static class PointCrop
{
    /// <remarks>Overwrites <paramref name="points"/>: pass a scan read for this purpose.</remarks>
    public static float[] Apply(float[] points, KittiGeometry geometry, KittiOptions options, out int nonFinite) =>
        Apply(points, geometry, options.PointCloudRange, options.CropToCameraFov, options.ImageWidth, options.ImageHeight, out nonFinite);

    /// <summary>Crops in place (kept points move forward in the same array) and returns the kept prefix as a new array; non-finite points are dropped.</summary>
    public static float[] Apply(float[] points, KittiGeometry geometry, float[] range, bool cropToFov, int imageWidth, int imageHeight) =>
        Apply(points, geometry, range, cropToFov, imageWidth, imageHeight, out _);

    /// <inheritdoc cref="Apply(float[], KittiGeometry, float[], bool, int, int)"/>
    /// <param name="nonFinite">How many points had a NaN or infinite coordinate or intensity (dropped).</param>
    public static float[] Apply(float[] points, KittiGeometry geometry, float[] range, bool cropToFov, int imageWidth, int imageHeight, out int nonFinite)
    {
        nonFinite = 0;
        var n = points.Length / 4;
        var m = geometry.VeloToImage;
        double m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7], m8 = m[8], m9 = m[9], m10 = m[10], m11 = m[11];
        float x0 = range[0], y0 = range[1], z0 = range[2], x1 = range[3], y1 = range[4], z1 = range[5];
        var kept = 0;
        for (var i = 0; i < n; i++)
        {
            float x = points[4 * i], y = points[4 * i + 1], z = points[4 * i + 2];
            // Written so that NaN fails it: NaN/Inf points passed the old form (x < x0 || ...) and reached the model.
            if (!(x >= x0 && x < x1 && y >= y0 && y < y1 && z >= z0 && z < z1) || !float.IsFinite(points[4 * i + 3]))
            {
                if (!float.IsFinite(x) || !float.IsFinite(y) || !float.IsFinite(z) || !float.IsFinite(points[4 * i + 3])) nonFinite++;
                continue;
            }
            if (cropToFov)
            {
                // OpenPCDet get_fov_flag: depth > 0 and the projection inside the image.
                var w = m8 * x + m9 * y + m10 * z + m11;
                if (w <= 0) continue;
                var u = (m0 * x + m1 * y + m2 * z + m3) / w;
                var v = (m4 * x + m5 * y + m6 * z + m7) / w;
                if (u < 0 || u >= imageWidth || v < 0 || v >= imageHeight) continue;
            }
            if (kept != i)
            {
                points[4 * kept] = x;
                points[4 * kept + 1] = y;
                points[4 * kept + 2] = z;
                points[4 * kept + 3] = points[4 * i + 3];
            }
            kept++;
        }
        return points[..(4 * kept)];
    }

    /// <summary>A seeded random subset of <paramref name="maxPoints"/> points, kept in their original order.</summary>
    public static float[] Subsample(float[] points, int maxPoints, int seed)
    {
        var n = points.Length / 4;
        if (n <= maxPoints) return points;
        var order = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(order);
        Array.Sort(order, 0, maxPoints);
        var result = new float[maxPoints * 4];
        for (var k = 0; k < maxPoints; k++) points.AsSpan(4 * order[k], 4).CopyTo(result.AsSpan(4 * k, 4));
        return result;
    }
}
