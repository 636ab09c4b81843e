using Platform.Abstractions.Data;
using Platform.Plugins.Models.CenterPoint;
using static TorchSharp.torch;

namespace Platform.Plugins.Models.CenterPoint.Tests;

public class TargetAndDecodeTests
{
    /// <summary>The tiny scenes' grid: 0.64 m feature cells from (0, -10.24), 32 x 32.</summary>
    private static readonly BevGrid Grid = new(Scenes.TinyRange, 0.32, 2);

    private static TargetOptions Targets(int minRadius = 1) => new() { MinRadius = minRadius };

    [Test]
    public void Gaussian_radius_follows_the_CenterNet_rule()
    {
        // 10 x 4 cells at overlap 0.1: the third root is smallest, (b3 + sqrt(b3² − 4 a3 c3)) / 2 with
        // a3 = 0.4, b3 = −2.8, c3 = −36: (−2.8 + sqrt(65.44)) / 2 = 2.6447...
        Assert.That(GaussianHeatmapTarget.GaussianRadius(10, 4, 0.1), Is.EqualTo((-2.8 + Math.Sqrt(65.44)) / 2).Within(1e-9));
    }

    [Test]
    public void Heatmap_peaks_at_the_box_centre_cell_with_the_rule_radius()
    {
        // Tiny grid: 0.64 m cells from (0, −10.24). A 6.4 x 2.56 m box is 10 x 4 cells: radius int(2.64) = 2.
        var box = new Box3D(5.0f, 0.3f, -1f, 6.4f, 2.56f, 1.5f, 0.4f, 2);
        var targets = new GaussianHeatmapTarget(Targets(), Grid, 3).Build([box]);

        int w = Grid.FeatureX, h = Grid.FeatureY;
        // Column floor(5.0 / 0.64) = 7, row floor((0.3 + 10.24) / 0.64) = 16.
        int col = 7, row = 16;
        Assert.That(targets.Radii, Is.EqualTo(new[] { 2 }));
        Assert.That(targets.Indices, Is.EqualTo(new[] { row * w + col }));
        float At(int cls, int r, int c) => targets.Heatmap[cls * h * w + r * w + c];
        Assert.That(At(2, row, col), Is.EqualTo(1f));
        Assert.That(targets.Heatmap.Max(), Is.EqualTo(1f));
        Assert.That(targets.Heatmap.Count(v => v == 1f), Is.EqualTo(1));
        // σ = (2·2 + 1) / 6; two cells away: exp(−4 / 2σ²); three cells away: outside the window.
        var sigma = 5.0 / 6;
        Assert.That(At(2, row, col + 2), Is.EqualTo((float)Math.Exp(-4 / (2 * sigma * sigma))).Within(1e-6));
        Assert.That(At(2, row + 2, col - 2), Is.EqualTo((float)Math.Exp(-8 / (2 * sigma * sigma))).Within(1e-6));
        Assert.That(At(2, row, col + 3), Is.EqualTo(0f));
        Assert.That(At(0, row, col), Is.EqualTo(0f), "other classes' heatmaps stay empty");
        // Regression: offset inside the cell, z, log sizes, sin and cos of yaw.
        var expected = new[] { 5.0f / 0.64f - col, (0.3f + 10.24f) / 0.64f - row, -1f, MathF.Log(6.4f), MathF.Log(2.56f), MathF.Log(1.5f), MathF.Sin(0.4f), MathF.Cos(0.4f) };
        Assert.That(targets.Regression[0], Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void An_absurd_box_size_covers_the_map_at_once_and_a_non_finite_box_gets_no_target()
    {
        var huge = new Box3D(5.0f, 0.3f, -1f, 1e30f, 1e30f, 1.5f, 0f, 0);
        var task = Task.Run(() => new GaussianHeatmapTarget(Targets(), Grid, 3).Build([huge]));
        Assert.That(task.Wait(TimeSpan.FromSeconds(30)), "a radius of int.MaxValue once looped for ever");
        var targets = task.Result;
        int w = Grid.FeatureX, h = Grid.FeatureY;
        Assert.That(targets.Heatmap.Take(h * w).All(v => v > 0.99f), "a Gaussian wider than the map is ~1 everywhere on its class");

        var nan = new GaussianHeatmapTarget(Targets(), Grid, 3).Build([new Box3D(5.0f, 0.3f, -1f, float.NaN, 2f, 1.5f, 0f, 0), new Box3D(5.0f, 0.3f, float.PositiveInfinity, 4f, 2f, 1.5f, 0f, 1)]);
        Assert.That(nan.Indices, Is.Empty);
        Assert.That(nan.Heatmap.Max(), Is.EqualTo(0f));
    }

    [Test]
    public void Boxes_outside_the_range_or_of_unknown_class_get_no_target()
    {
        var targets = new GaussianHeatmapTarget(Targets(), Grid, 3).Build([Scenes.Car(-3f, 0f, 0f), Scenes.Car(5f, 0f, 0f) with { ClassId = 7 }]);
        Assert.That(targets.Indices, Is.Empty);
        Assert.That(targets.Heatmap.Max(), Is.EqualTo(0f));
    }

    [Test]
    public void Decoding_the_encoded_targets_recovers_the_boxes()
    {
        Box3D[] boxes = [Scenes.Car(6.1f, -3.3f, 0.5f), Scenes.Car(14.2f, 4.7f, -2.8f), Scenes.Pedestrian(9.5f, 1.1f)];
        var targets = new GaussianHeatmapTarget(Targets(), Grid, 3).Build(boxes);
        int w = Grid.FeatureX, h = Grid.FeatureY;

        // Outputs a perfect network would give: heatmap logits peaking at the centres, regressions at those cells.
        var heat = tensor(targets.Heatmap, [1, 3, h, w]);
        var logits = (heat * 20 - 10).clamp(-10, 10);
        var maps = zeros(1, 8, h * w);
        for (var o = 0; o < boxes.Length; o++) maps[0, .., targets.Indices[o]] = tensor(targets.Regression[o]);
        maps = maps.reshape(1, 8, h, w);
        var output = new Dictionary<string, Tensor>
        {
            ["hm"] = logits, ["center"] = maps[.., 0..2], ["center_z"] = maps[.., 2..3], ["dim"] = maps[.., 3..6], ["rot"] = maps[.., 6..8],
        };

        var decoded = new CenterPointDecoder(new PostProcessingOptions(), Grid).Decode(output)[0];

        Assert.That(decoded, Has.Count.EqualTo(3));
        foreach (var box in boxes)
        {
            var match = decoded.OrderBy(d => Math.Abs(d.X - box.X) + Math.Abs(d.Y - box.Y)).First();
            Assert.That(match.ClassId, Is.EqualTo(box.ClassId));
            Assert.That(new[] { match.X, match.Y, match.Z, match.Length, match.Width, match.Height, match.Yaw },
                Is.EqualTo(new[] { box.X, box.Y, box.Z, box.Length, box.Width, box.Height, box.Yaw }).Within(1e-4));
            Assert.That(match.Score, Is.EqualTo(1 / (1 + MathF.Exp(-10))).Within(1e-6));
        }
    }

    [Test]
    public void Nms_keeps_the_best_of_overlapping_boxes_per_class_only()
    {
        var decoder = new CenterPointDecoder(new PostProcessingOptions(), Grid);
        var best = new Box3D(5, 0, 0, 4, 2, 1, 0, 0, 0.9f);
        var kept = decoder.Suppress([best with { X = 5.2f, Score = 0.5f }, best, best with { ClassId = 1, Score = 0.4f }, best with { X = 12, Score = 0.3f }]);
        Assert.That(kept.Select(k => (k.X, k.ClassId, k.Score)), Is.EqualTo(new[] { (5f, 0, 0.9f), (5f, 1, 0.4f), (12f, 0, 0.3f) }));

        var circle = new CenterPointDecoder(new PostProcessingOptions { NmsType = "circle", NmsThreshold = 1.0 }, Grid);
        Assert.That(circle.Suppress([best, best with { X = 5.9f, Score = 0.5f }, best with { X = 6.1f, Score = 0.4f }]), Has.Count.EqualTo(2));
    }

    [Test]
    public void Focal_loss_matches_the_formula_on_two_cells()
    {
        // Logits 0 (p = 0.5) at a centre (y = 1) and a background cell (y = 0): both terms are ln(0.5) · 0.25; N = 1.
        var loss = CenterPointLoss.Focal(zeros(1, 1, 1, 2), tensor(new[] { 1f, 0f }, [1, 1, 1, 2])).item<float>();
        Assert.That(loss, Is.EqualTo(-2 * 0.25 * Math.Log(0.5)).Within(1e-6));
        // Near a centre the background term shrinks by (1 − y)^4.
        var near = CenterPointLoss.Focal(zeros(1, 1, 1, 2), tensor(new[] { 1f, 0.5f }, [1, 1, 1, 2])).item<float>();
        Assert.That(near, Is.EqualTo(-(1 + 0.0625) * 0.25 * Math.Log(0.5)).Within(1e-6));
    }

    [Test]
    public void Regression_loss_reads_only_the_masked_object_cells()
    {
        var prediction = arange(8f).reshape(1, 2, 2, 2);     // channel 0: 0..3, channel 1: 4..7
        var loss = CenterPointLoss.RegressionL1(prediction, tensor(new long[] { 3, 0 }, [1, 2]), tensor(new[] { 1f, 0f }, [1, 2]),
            tensor(new[] { 1f, 1f, 100f, 100f }, [1, 2, 2]));
        // Object at cell 3 predicts (3, 7) for targets (1, 1); the second object is padding.
        Assert.That(loss.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 6f }));
    }
}
