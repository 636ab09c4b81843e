using System.Diagnostics;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;
using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class SyntheticScenesTests
{
    [Test]
    public void The_same_seed_gives_the_same_frame_and_another_seed_another()
    {
        var a = SyntheticKittiScenes.Generate(seed: 7, index: 3);
        var b = SyntheticKittiScenes.Generate(seed: 7, index: 3);
        var c = SyntheticKittiScenes.Generate(seed: 8, index: 3);
        Assert.That(b.Points, Is.EqualTo(a.Points));
        Assert.That(KittiFiles.FormatLabels(b.Labels, false), Is.EqualTo(KittiFiles.FormatLabels(a.Labels, false)));
        Assert.That(c.Points, Is.Not.EqualTo(a.Points));
    }

    [Test]
    public void A_64_beam_frame_casts_KITTI_azimuth_steps_over_the_front_sector_in_well_under_a_second()
    {
        SyntheticKittiScenes.Generate(0, 0); // JIT
        var watch = Stopwatch.StartNew();
        const int frames = 5;
        var points = 0;
        for (var i = 0; i < frames; i++) points += SyntheticKittiScenes.Generate(1, i).Points.Length / 4;
        var perFrame = watch.Elapsed.TotalSeconds / frames;
        var frame = SyntheticKittiScenes.Generate(1, 0);
        TestContext.Out.WriteLine($"{perFrame * 1000:F0} ms per frame, {points / frames} points per frame");
        // 64 beams x 1125 columns (0.08 degree steps over +-45 degrees).
        Assert.That(frame.RaysCast, Is.EqualTo(64 * 1125));
        // About 0.08-0.18 s measured on the shared 2-core machine; the bound leaves room for a loaded machine.
        Assert.That(perFrame, Is.LessThan(0.8));
        Assert.That(points / frames, Is.InRange(20_000, 64 * 1125));
    }

    [Test]
    public void Points_lie_on_the_ground_or_on_objects_with_reflectance_in_unit_range()
    {
        var frame = SyntheticKittiScenes.Generate(2, 0);
        var p = frame.Points;
        for (var i = 0; i < p.Length / 4; i++)
        {
            Assert.That(p[4 * i + 2], Is.GreaterThan(-1.73 - 0.5), "nothing below the road");
            Assert.That(p[4 * i + 3], Is.InRange(0f, 1f));
            Assert.That(Math.Sqrt(p[4 * i] * p[4 * i] + p[4 * i + 1] * p[4 * i + 1] + p[4 * i + 2] * p[4 * i + 2]), Is.LessThan(100.5));
        }
        // The lowest beam (-24.9 degrees) meets the road 1.73 / tan(24.9 deg) = 3.73 m ahead: a ring of ground points there.
        var ground = Enumerable.Range(0, p.Length / 4).Count(i => Math.Abs(p[4 * i + 2] + 1.73f) < 0.1f);
        Assert.That(ground, Is.GreaterThan(p.Length / 4 / 4));
    }

    [Test]
    public void Labelled_objects_have_KITTI_sizes_stand_on_the_ground_and_are_hit_by_the_lidar()
    {
        var geometry = new KittiGeometry(SyntheticKittiScenes.Calibration);
        var counts = new Dictionary<string, int>();
        for (var f = 0; f < 10; f++)
        {
            var frame = SyntheticKittiScenes.Generate(3, f);
            foreach (var o in frame.Labels.Where(l => !l.IsDontCare))
            {
                counts[o.Type] = counts.GetValueOrDefault(o.Type) + 1;
                var box = geometry.CameraToLidar(o, 0);
                Assert.That(box.Z - box.Height / 2, Is.EqualTo(-1.73).Within(0.05), "bottom on the road");
                if (o.Type == "Car") Assert.That(o.Length, Is.InRange(3.2f, 4.9f));
                if (o.Type == "Pedestrian") Assert.That(o.Height, Is.InRange(1.45f, 2.0f));
                Assert.That(o.Occluded, Is.InRange(0, 2));
                Assert.That(o.Truncated, Is.InRange(0f, 1f));
                Assert.That(o.Bottom - o.Top, Is.GreaterThan(1), "a 2D box from the projection");
                // At least a few returns inside the (slightly grown) box.
                var inside = PointsInBox(frame.Points, box, 0.2f);
                Assert.That(inside, Is.GreaterThanOrEqualTo(3), $"{o.Type} at {box}");
            }
        }
        TestContext.Out.WriteLine(string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.That(counts.GetValueOrDefault("Car"), Is.GreaterThanOrEqualTo(20), "several cars per frame");
        Assert.That(counts.GetValueOrDefault("Pedestrian") + counts.GetValueOrDefault("Cyclist"), Is.GreaterThanOrEqualTo(5));
    }

    [Test]
    public void Occlusion_labels_cover_all_levels_over_a_few_frames()
    {
        var levels = new HashSet<int>();
        for (var f = 0; f < 20; f++)
            foreach (var o in SyntheticKittiScenes.Generate(4, f).Labels.Where(l => !l.IsDontCare)) levels.Add(o.Occluded);
        Assert.That(levels, Is.SupersetOf(new[] { 0, 1, 2 }));
    }

    [Test]
    public void The_generated_tree_is_a_KITTI_layout_written_byte_for_byte_the_same_for_a_seed()
    {
        var dir = TestPaths.NewTempDirectory("kitti-synth");
        try
        {
            SyntheticKittiScenes.GenerateTree(Path.Combine(dir, "a"), new SyntheticSplits(3, 1, 1), 11, NullProgressReporter.Instance);
            SyntheticKittiScenes.GenerateTree(Path.Combine(dir, "b"), new SyntheticSplits(3, 1, 1), 11, NullProgressReporter.Instance);
            var a = Directory.GetFiles(Path.Combine(dir, "a"), "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(Path.Combine(dir, "a"), p)).Order().ToArray();
            Assert.That(a, Does.Contain(Path.Combine("training", "velodyne", "000004.bin")));
            Assert.That(a, Does.Contain(Path.Combine("training", "label_2", "000000.txt")));
            Assert.That(a, Does.Contain(Path.Combine("training", "calib", "000002.txt")));
            Assert.That(File.ReadAllLines(Path.Combine(dir, "a", "ImageSets", "train.txt")), Is.EqualTo(new[] { "000000", "000001", "000002" }));
            Assert.That(File.ReadAllLines(Path.Combine(dir, "a", "ImageSets", "val.txt")), Is.EqualTo(new[] { "000003" }));
            Assert.That(File.ReadAllLines(Path.Combine(dir, "a", "ImageSets", "test.txt")), Is.EqualTo(new[] { "000004" }));
            Assert.That(SyntheticKittiScenes.ReadProvenance(Path.Combine(dir, "a")), Is.EqualTo((new SyntheticSplits(3, 1, 1), 11)));
            foreach (var rel in a)
                Assert.That(File.ReadAllBytes(Path.Combine(dir, "b", rel)), Is.EqualTo(File.ReadAllBytes(Path.Combine(dir, "a", rel))), rel);
            Assert.That(Directory.GetDirectories(dir), Has.Length.EqualTo(2), "no staging folder left behind");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static int PointsInBox(float[] points, Platform.Abstractions.Data.Box3D box, float margin)
    {
        double c = Math.Cos(box.Yaw), s = Math.Sin(box.Yaw);
        var n = 0;
        for (var i = 0; i < points.Length / 4; i++)
        {
            double dx = points[4 * i] - box.X, dy = points[4 * i + 1] - box.Y, dz = points[4 * i + 2] - box.Z;
            var lx = c * dx + s * dy;
            var ly = -s * dx + c * dy;
            if (Math.Abs(lx) <= box.Length / 2 + margin && Math.Abs(ly) <= box.Width / 2 + margin && Math.Abs(dz) <= box.Height / 2 + margin) n++;
        }
        return n;
    }
}
