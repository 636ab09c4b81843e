using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Plugins.Datasets.KITTI;

public sealed class KittiThroughputOptions
{
    [Description("Split whose frames are read.")]
    public string Split { get; set; } = "val";

    [Description("Read at most this many frames of the split (0: all).")]
    [Range(0, int.MaxValue)]
    public int MaxFrames { get; set; }

    [Description("Each timed pass goes over the frames as often as it takes to read at least this many (a few frames alone time too briefly to trust).")]
    [Range(1, 1000000)]
    public int MinFramesPerPass { get; set; } = 60;

    [Description("Timed passes after one warm-up pass; the fastest is reported (on a shared machine the least disturbed).")]
    [Range(1, 100)]
    public int Passes { get; set; } = 3;

    [Description("Synthetic frames generated (ray cast, not written) to time the generator; 0: not timed.")]
    [Range(0, 100000)]
    public int GenerationFrames { get; set; } = 20;

    [Description("Seed of the generated frames (any; a seed other than the data set's, so nothing is cached).")]
    public int GenerationSeed { get; set; } = 1000;

    [Description("Also time one kitti-ap evaluation of the split's frames repeated to this many (KITTI val has 3769), to show how evaluation scales; 0: not timed.")]
    [Range(0, 1000000)]
    public int EvaluationFramesRepeatedTo { get; set; } = 3769;

    [Description("Seed of the jitter that turns ground truth into the predictions the evaluation times.")]
    public int JitterSeed { get; set; }
}

/// <summary>
/// How fast the KITTI data path runs on this machine: ray-cast generation of synthetic frames, reading the scan
/// bytes alone, reading with parsing and the range / field-of-view crop (what the dataset hands a model), that plus
/// the pipeline's model's own collation (for CenterPoint: pillar voxelization and its training targets), and the
/// kitti-ap evaluation of the split. Every read pass goes over the same files, so all see the same warm page cache. The model, if any, is not run.
/// </summary>
public sealed class KittiThroughputStep(KittiThroughputOptions options, RunServices services) : IPipelineStep
{
    public StepOutcome Run(PipelineContext context)
    {
        if (context.Dataset is not KittiDataset dataset)
            throw new InvalidOperationException($"Step 'kitti-throughput' times the 'kitti' dataset's reader; this pipeline's dataset is '{context.Dataset.Info.Name}'.");
        // The dataset's own reader, without the pipeline's point transforms: those are timed by the steps that add them.
        var split = (KittiSplit)dataset.GetSplit(options.Split);
        var frames = options.MaxFrames > 0 ? Math.Min(options.MaxFrames, split.Count) : split.Count;
        if (frames == 0) throw new InvalidOperationException($"Step 'kitti-throughput': split '{options.Split}' has no frames.");
        var scans = Enumerable.Range(0, frames).Select(i => split.VelodynePath(split.FrameIds[i])).ToArray();
        var repeats = Math.Max(1, (options.MinFramesPerPass + frames - 1) / frames);
        var framesPerPass = frames * repeats;
        var megabytesPerPass = scans.Sum(s => new FileInfo(s).Length) * repeats / 1e6;

        var outcome = new StepOutcome();
        outcome.Metrics["frames"] = frames;
        var rows = new List<IReadOnlyList<string>>();
        void Record(string key, string what, double seconds, int framesTimed, double? perFrame, string perFrameUnit, double? megabytes)
        {
            outcome.Metrics[key + "/seconds"] = seconds;
            outcome.Metrics[key + "/framesPerSecond"] = framesTimed / seconds;
            if (perFrame is { } p) outcome.Metrics[key + "/" + perFrameUnit + "PerFrame"] = p;
            if (megabytes is { } mb) outcome.Metrics[key + "/megabytesPerSecond"] = mb / seconds;
            rows.Add([what, framesTimed.ToString(), seconds.ToString("F3"), (framesTimed / seconds).ToString("F1"),
                perFrame is { } q ? $"{q:F0} {perFrameUnit}" : "-", megabytes is { } m ? (m / seconds).ToString("F0") : "-"]);
        }

        if (options.GenerationFrames > 0)
        {
            long points = 0;
            var seconds = Fastest(() =>
            {
                points = 0;
                for (var i = 0; i < options.GenerationFrames; i++) points += SyntheticKittiScenes.Generate(options.GenerationSeed, i).Points.Length / 4;
            });
            Record("generation", $"synthetic generation ({SyntheticKittiScenes.Beams} beams, {SyntheticKittiScenes.AzimuthStepDeg} deg, +-{SyntheticKittiScenes.AzimuthHalfWidthDeg} deg)",
                seconds, options.GenerationFrames, (double)points / options.GenerationFrames, "points", null);
        }

        long bytesRead = 0;
        var readSeconds = Fastest(() =>
        {
            bytesRead = 0;
            for (var r = 0; r < repeats; r++)
                foreach (var scan in scans) bytesRead += File.ReadAllBytes(scan).Length;
        });
        Record("readBytes", "read bytes only", readSeconds, framesPerPass, bytesRead / 16.0 / framesPerPass, "points", megabytesPerPass);

        long kept = 0;
        var cropSeconds = Fastest(() =>
        {
            kept = 0;
            for (var r = 0; r < repeats; r++)
                for (var i = 0; i < frames; i++) kept += split.Get(i).PointCount;
        });
        Record("readCrop", "read + parse + range/FOV crop", cropSeconds, framesPerPass, (double)kept / framesPerPass, "points", megabytesPerPass);

        if (context.Model is { } model)
        {
            // The model's own input preparation, one frame per batch as inference does it; IDescribesInput says what it made.
            var input = new Dictionary<string, double>();
            var collateSeconds = FastestTimed(() =>
            {
                input.Clear();
                var watch = new Stopwatch();
                for (var r = 0; r < repeats; r++)
                    for (var i = 0; i < frames; i++)
                    {
                        using var scope = TorchSharp.torch.NewDisposeScope();
                        // Collation calls native code with TorchSharp's temporary scalars, which a collection must not finalize
                        // meanwhile (Kit/NoGcRegion); entering the region collects, so it stays outside the timed part, as in inference.
                        using var quiet = NoGcRegion.Enter();
                        watch.Start();
                        using var batch = model.Collate([split.Get(i)], services.Device);
                        watch.Stop();
                        if (r == 0 && model is IDescribesInput describes)
                            foreach (var (key, value) in describes.DescribeInput(batch)) input[key] = input.GetValueOrDefault(key) + value / frames;
                    }
                return watch.Elapsed.TotalSeconds;
            });
            var pillars = input.TryGetValue("nonEmptyPillars", out var p) ? p : (double?)null;
            Record("readCropCollate", $"read + crop + {model.Spec.Use} collation",
                collateSeconds, framesPerPass, pillars, "pillars", megabytesPerPass);
            foreach (var (key, value) in input) outcome.Metrics["readCropCollate/input/" + key] = value;
        }
        else
        {
            outcome.Notes.Add("No model in the pipeline: the model's collation (voxelization) was not timed.");
        }

        if (split.HasLabels)
        {
            var items = JitteredGroundTruth(split, frames);
            var evaluator = new KittiApEvaluator(new KittiApOptions { WriteResultFiles = false });
            var folder = context.StepDirectory("evaluation");
            StepOutcome? scored = null;
            var evaluationSeconds = Fastest(() => scored = evaluator.Evaluate(items, dataset.Info, folder));
            Record("evaluation", $"kitti-ap evaluation of {frames} frames (jittered ground truth)", evaluationSeconds, frames, null, "", null);
            if (scored!.Metrics.TryGetValue("mAP/3d/moderate/R40", out var map)) outcome.Metrics["evaluation/jitteredGroundTruthMap3d"] = map;
            if (options.EvaluationFramesRepeatedTo > 0)
            {
                var repeated = Enumerable.Range(0, options.EvaluationFramesRepeatedTo).Select(i => items[i % items.Count]).ToList();
                var watch = Stopwatch.StartNew();
                evaluator.Evaluate(repeated, dataset.Info, folder);
                Record("evaluationRepeated", $"kitti-ap evaluation, frames repeated to {repeated.Count} (one pass)", watch.Elapsed.TotalSeconds, repeated.Count, null, "", null);
            }
        }
        else
        {
            outcome.Notes.Add($"Split '{options.Split}' has no labels: the evaluation was not timed.");
        }

        outcome.Tables.Add(new ReportTable($"KITTI data path, {frames} frames of split '{options.Split}' (fastest of {options.Passes} passes after a warm-up)",
            ["setting", "frames", "seconds", "frames/s", "per frame", "MB/s"], rows));
        outcome.Notes.Add("The evaluation scores the ground truth jittered (centre +-0.3 m, size +-5 %, yaw +-0.1 rad), a tenth of it dropped, and one false positive per frame: " +
                          "its AP means nothing, its time is what is measured.");
        return outcome;
    }

    /// <summary>One untimed pass (JIT, page cache), then the fastest of the timed passes, in seconds.</summary>
    private double Fastest(Action pass) => FastestTimed(() =>
    {
        var watch = Stopwatch.StartNew();
        pass();
        return watch.Elapsed.TotalSeconds;
    });

    /// <summary>As <see cref="Fastest"/>, for a pass that times itself (returns its seconds).</summary>
    private double FastestTimed(Func<double> pass)
    {
        pass();
        var best = double.MaxValue;
        for (var i = 0; i < options.Passes; i++) best = Math.Min(best, pass());
        return best;
    }

    /// <summary>Predictions an evaluation can score without a model: the frames' boxes moved a little, some missed, some invented.</summary>
    private List<(Sample Sample, Prediction Prediction)> JitteredGroundTruth(KittiSplit split, int frames)
    {
        var random = new Random(options.JitterSeed);
        float Jitter(double scale) => (float)((random.NextDouble() * 2 - 1) * scale);
        var items = new List<(Sample, Prediction)>(frames);
        for (var i = 0; i < frames; i++)
        {
            var sample = split.Get(i);
            var boxes = new List<Box3D>();
            foreach (var b in sample.Boxes)
            {
                if (random.NextDouble() < 0.1) continue;
                boxes.Add(b with { X = b.X + Jitter(0.3), Y = b.Y + Jitter(0.3), Length = b.Length * (1 + Jitter(0.05)), Width = b.Width * (1 + Jitter(0.05)), Yaw = b.Yaw + Jitter(0.1), Score = (float)random.NextDouble() });
            }
            boxes.Add(new Box3D(20 + Jitter(10), Jitter(10), -0.9f, 3.9f, 1.6f, 1.5f, Jitter(3), 0, (float)random.NextDouble()));
            items.Add((sample.WithoutPoints(), new Prediction { Boxes = boxes }));
        }
        return items;
    }
}
