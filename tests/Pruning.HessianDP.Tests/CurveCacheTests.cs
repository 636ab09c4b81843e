using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class CurveCacheTests
{
    private static (StepOutcome Outcome, bool[][] Masks) Prune(int seed, double reduction, string cache, bool curveReconstruction = false)
    {
        using var model = TrainedModels.Detector(seed);
        var outcome = new HessianDPCompressor(new HessianDPOptions { FlopsReduction = reduction, CurveLevels = 4, CurveCache = cache, CurveReconstruction = curveReconstruction })
            .Run(TestPipeline.Context(model));
        return (outcome, MasksOf(model));
    }

    private static bool[][] MasksOf(IModel model) =>
        model.PrunableLayers.Select(l => l.Weight.detach().ne(0).flatten().data<bool>().ToArray()).ToArray();

    [Test]
    public void A_second_run_on_the_same_model_and_calibration_reads_the_curves_and_prunes_as_a_fresh_measurement_would()
    {
        var cache = Platform.TestKit.TestPaths.NewTempDirectory("curve-cache");
        var first = Prune(seed: 21, reduction: 3, cache);
        Assert.That(first.Outcome.Metrics["curvesCached"], Is.EqualTo(0));
        Assert.That(first.Outcome.Metrics["curvePasses"], Is.GreaterThan(0));
        Assert.That(Directory.GetFiles(cache, "curves-*.json"), Has.Length.EqualTo(1));

        // Another budget on the same weights: no pass runs, and the masks are those measured curves give.
        var cached = Prune(seed: 21, reduction: 2, cache);
        var fresh = Prune(seed: 21, reduction: 2, cache: "");
        Assert.That(cached.Outcome.Metrics["curvesCached"], Is.EqualTo(1));
        Assert.That(cached.Outcome.Metrics["curvePasses"], Is.EqualTo(0));
        Assert.That(fresh.Outcome.Metrics, Does.Not.ContainKey("curvesCached"), "no cache, no metric");
        Assert.That(cached.Masks, Is.EqualTo(fresh.Masks));
        Assert.That(cached.Outcome.Metrics["distortionSingleLayerSum"], Is.EqualTo(fresh.Outcome.Metrics["distortionSingleLayerSum"]).Within(1e-12));
    }

    [Test]
    public void Other_weights_do_not_read_the_curves_of_a_model_they_are_not()
    {
        var cache = Platform.TestKit.TestPaths.NewTempDirectory("curve-cache");
        Prune(seed: 22, reduction: 3, cache);
        var other = Prune(seed: 23, reduction: 3, cache);
        Assert.That(other.Outcome.Metrics["curvesCached"], Is.EqualTo(0));
        Assert.That(Directory.GetFiles(cache, "curves-*.json"), Has.Length.EqualTo(2));
    }

    [Test]
    public void Curves_measured_after_a_refit_are_cached_apart_from_plain_ones()
    {
        var cache = Platform.TestKit.TestPaths.NewTempDirectory("curve-cache");
        Prune(seed: 25, reduction: 3, cache);
        var refitted = Prune(seed: 25, reduction: 3, cache, curveReconstruction: true);
        Assert.That(refitted.Outcome.Metrics["curvesCached"], Is.EqualTo(0), "plain curves are not read for refitted ones");
        Assert.That(Directory.GetFiles(cache, "curves-*.json"), Has.Length.EqualTo(2));
        Assert.That(Prune(seed: 25, reduction: 2, cache, curveReconstruction: true).Outcome.Metrics["curvesCached"], Is.EqualTo(1));
    }

    [Test]
    public void Allocation_rounds_read_their_curves_around_the_plan_from_the_cache_on_a_second_run_and_prune_alike()
    {
        var cache = Platform.TestKit.TestPaths.NewTempDirectory("curve-cache");
        StepOutcome Run(string folder, out bool[][] masks)
        {
            using var model = TrainedModels.Detector(seed: 26);
            var outcome = new HessianDPCompressor(new HessianDPOptions
            {
                FlopsReduction = 6, CurveLevels = 4, CurveCache = folder, PlanRounds = 3, CalibrationSamples = 8, CalibrationBatchSize = 4, RecalibrateBatchNorm = false,
            }).Run(TestPipeline.Context(model));
            masks = MasksOf(model);
            return outcome;
        }

        var first = Run(cache, out var firstMasks);
        Assert.That(first.Metrics["roundCurvesCached"], Is.EqualTo(0));
        // The single-layer curves and one file per later round, each measured around its own plan (a round that repeated a
        // plan would have read its curves from the cache and counted in roundCurvesCached above).
        var files = Directory.GetFiles(cache, "curves-*.json");
        Assert.That(files, Has.Length.EqualTo(3));
        var written = files.ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Thread.Sleep(20);

        var second = Run(cache, out var secondMasks);
        Assert.That(second.Metrics["curvesCached"], Is.EqualTo(1));
        Assert.That(second.Metrics["roundCurvesCached"], Is.EqualTo(2));
        Assert.That(Directory.GetFiles(cache, "curves-*.json").ToDictionary(f => f, File.GetLastWriteTimeUtc), Is.EqualTo(written), "no file written again");
        var fresh = Run("", out var freshMasks);
        Assert.That(fresh.Metrics, Does.Not.ContainKey("roundCurvesCached"), "no cache, no metric");
        Assert.That(secondMasks, Is.EqualTo(freshMasks));
        Assert.That(firstMasks, Is.EqualTo(freshMasks));
        for (var r = 1; r <= 3; r++)
            Assert.That(second.Metrics[$"roundDistortion/{r}"], Is.EqualTo(fresh.Metrics[$"roundDistortion/{r}"]).Within(1e-12));
    }

    [Test]
    public void Curves_around_a_plan_may_hold_negative_values_single_layer_curves_may_not()
    {
        using var model = TrainedModels.Detector(seed: 27);
        var candidates = model.PrunableLayers.Take(2).Select(l => new PruningCandidate(l, l.Weight.numel(), 0, l.Weight.numel() * 9 / 10)).ToList();
        long[][] grids = [[0, 10], [0, 20]];
        double[][] values = [[0, -0.001], [0, 0.5]];
        var path = Path.Combine(Platform.TestKit.TestPaths.NewTempDirectory("curve-cache"), "curves.json");
        CurveCache.Write(path, "key", candidates, grids, values);
        Assert.That(CurveCache.TryRead(path, "key", candidates, grids, out var problem, signed: true), Is.EqualTo(values));
        Assert.That(problem, Is.Null);
        Assert.That(CurveCache.TryRead(path, "key", candidates, grids, out problem), Is.Null);
        Assert.That(problem, Does.Contain("not a finite non-negative number"));
    }

    [TestCase("truncated")]
    [TestCase("level")]
    [TestCase("name")]
    [TestCase("values")]
    public void A_cache_file_that_does_not_match_is_ignored_with_a_note_and_measured_again(string damage)
    {
        var cache = Platform.TestKit.TestPaths.NewTempDirectory("curve-cache");
        Prune(seed: 24, reduction: 3, cache);
        var file = Directory.GetFiles(cache, "curves-*.json").Single();
        var text = File.ReadAllText(file);
        var damaged = damage switch
        {
            "truncated" => text[..(text.Length / 2)],
            // The first layer's levels start at 0; a file claiming another level would be read at the wrong sparsities.
            "level" => ReplaceFirst(text, "\"Levels\": [\n        0,", "\"Levels\": [\n        1,"),
            "name" => ReplaceFirst(text, "\"Name\": \"", "\"Name\": \"x"),
            "values" => ReplaceFirst(text, "\"Measured\": [\n        0,", "\"Measured\": [\n        0,\n        0,"),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };
        Assert.That(damaged, Is.Not.EqualTo(text), "the damage applies");
        File.WriteAllText(file, damaged);

        var again = Prune(seed: 24, reduction: 3, cache);
        Assert.That(again.Outcome.Metrics["curvesCached"], Is.EqualTo(0));
        Assert.That(again.Outcome.Notes, Has.Some.Contains("ignored"));
        Assert.That(File.ReadAllText(file), Is.EqualTo(text), "the measurement is written back in place of the damaged file");
        Assert.That(Prune(seed: 24, reduction: 3, cache).Outcome.Metrics["curvesCached"], Is.EqualTo(1));
    }

    private static string ReplaceFirst(string text, string from, string to)
    {
        var at = text.IndexOf(from, StringComparison.Ordinal);
        return at < 0 ? text : text[..at] + to + text[(at + from.Length)..];
    }
}
