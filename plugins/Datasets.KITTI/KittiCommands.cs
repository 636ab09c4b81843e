using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Datasets.KITTI;

public sealed class EvalKittiOptions
{
    [Description("Ground truth: a KITTI root (with training/label_2) or a folder of label_2 files.")]
    public string Gt { get; set; } = "";

    [Description("Detections: a folder of KITTI result files (label_2 format with a 16th score field), or one holding them under data/.")]
    public string Det { get; set; } = "";

    [Description("Frames to evaluate: a split name under the root's ImageSets (e.g. val) or a path to a list of frame ids; empty means every ground-truth file.")]
    public string Split { get; set; } = "";

    [Description("Classes to evaluate, comma-separated.")]
    public string Classes { get; set; } = "Car,Pedestrian,Cyclist";
}

/// <summary><c>platform eval-kitti --gt DIR --det DIR</c>: the KITTI AP of result files, as the devkit computes it.</summary>
public sealed class EvalKittiCommand(EvalKittiOptions options) : IPluginCommand
{
    public int Run()
    {
        try
        {
            var aps = Evaluate(options, out var frames, out var missing);
            var outcome = new StepOutcome();
            KittiApReport.Fill(outcome, aps);
            Console.WriteLine($"KITTI AP over {frames} frames ({missing} without a detection file, counted as no detections).");
            Console.Write(KittiApReport.ToMarkdown(outcome.Tables[0]));
            foreach (var key in outcome.Metrics.Keys.Where(k => k.StartsWith("mAP/", StringComparison.Ordinal) && k.EndsWith("/R40", StringComparison.Ordinal)))
                Console.WriteLine($"{key} = {outcome.Metrics[key]:F2}");
            return 0;
        }
        catch (Exception e) when (e is KittiFormatException or ArgumentException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine("eval-kitti: " + e.Message);
            return 2;
        }
    }

    public static IReadOnlyList<KittiAp> Evaluate(EvalKittiOptions options, out int frames, out int missingDetections)
    {
        if (string.IsNullOrWhiteSpace(options.Gt)) throw new ArgumentException("Option --gt is required (a KITTI root or a label_2 folder).");
        if (string.IsNullOrWhiteSpace(options.Det)) throw new ArgumentException("Option --det is required (a folder of KITTI result files).");
        var gtRoot = Path.GetFullPath(options.Gt);
        var labelDir = Directory.Exists(Path.Combine(gtRoot, "training", "label_2")) ? Path.Combine(gtRoot, "training", "label_2") : gtRoot;
        if (!Directory.Exists(labelDir)) throw new DirectoryNotFoundException($"{gtRoot}: ground-truth folder (option --gt) does not exist.");
        var detDir = Path.GetFullPath(options.Det);
        if (Directory.Exists(Path.Combine(detDir, "data"))) detDir = Path.Combine(detDir, "data");
        if (!Directory.Exists(detDir)) throw new DirectoryNotFoundException($"{detDir}: detection folder (option --det) does not exist.");

        IReadOnlyList<string> ids;
        if (string.IsNullOrWhiteSpace(options.Split))
        {
            ids = Directory.GetFiles(labelDir, "*.txt").Select(p => Path.GetFileNameWithoutExtension(p)).Order(StringComparer.Ordinal).ToArray();
        }
        else
        {
            var listFile = File.Exists(options.Split) ? options.Split : Path.Combine(gtRoot, "ImageSets", options.Split + ".txt");
            ids = KittiFiles.ReadImageSet(listFile);
        }
        var classes = options.Classes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (classes.Length == 0) throw new ArgumentException("Option --classes names no class.");

        var gt = new List<IReadOnlyList<KittiObject>>(ids.Count);
        var dt = new List<IReadOnlyList<KittiObject>>(ids.Count);
        missingDetections = 0;
        foreach (var id in ids)
        {
            gt.Add(KittiFiles.ReadLabels(Path.Combine(labelDir, id + ".txt")));
            var detFile = Path.Combine(detDir, id + ".txt");
            if (File.Exists(detFile)) dt.Add(KittiFiles.ReadLabels(detFile));
            else
            {
                dt.Add([]);
                missingDetections++;
            }
        }
        frames = ids.Count;
        return KittiObjectEvaluation.Evaluate(gt, dt, classes);
    }
}

public sealed class KittiSynthOptions
{
    [Description("Output folder for the KITTI object tree (must not exist or be empty).")]
    public string Out { get; set; } = "data/kitti-synth";

    [Description("Training frames.")]
    [Range(0, 100000)]
    public int Train { get; set; } = SyntheticSplits.Default.Train;

    [Description("Validation frames (numbered after the training frames).")]
    [Range(0, 100000)]
    public int Val { get; set; } = SyntheticSplits.Default.Val;

    [Description("Test frames (numbered after the validation frames).")]
    [Range(0, 100000)]
    public int Test { get; set; } = SyntheticSplits.Default.Test;

    [Description("Seed: the same seed gives the same bytes.")]
    public int Seed { get; set; }
}

/// <summary><c>platform data kitti-synth --out DIR --train N --val N --test N --seed S</c>: writes the synthetic KITTI-format set.</summary>
public sealed class KittiSynthCommand(KittiSynthOptions options) : IPluginCommand
{
    public int Run()
    {
        try
        {
            var watch = Stopwatch.StartNew();
            var splits = new SyntheticSplits(options.Train, options.Val, options.Test);
            SyntheticKittiScenes.GenerateTree(options.Out, splits, options.Seed, new ConsoleProgress());
            Console.WriteLine($"Wrote {splits} of synthetic KITTI (seed {options.Seed}) to {Path.GetFullPath(options.Out)} in {watch.Elapsed.TotalSeconds:F1} s.");
            return 0;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("data kitti-synth: " + e.Message);
            return 2;
        }
    }

    /// <summary>Prints every tenth of the work (commands get no host progress reporter).</summary>
    private sealed class ConsoleProgress : IProgressReporter, IProgressTask
    {
        private long _total, _done, _lastTenth = -1;
        private string _description = "";

        public IProgressTask Start(string description, long total)
        {
            _description = description;
            _total = Math.Max(1, total);
            return this;
        }

        public void Advance(long amount = 1, string? status = null)
        {
            _done += amount;
            var tenth = _done * 10 / _total;
            if (tenth == _lastTenth) return;
            _lastTenth = tenth;
            Console.WriteLine($"{_description}: {_done}/{_total}");
        }

        public void Dispose() { }
    }
}
