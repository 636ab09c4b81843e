using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class KittiDatasetTests
{
    // One small synthetic tree shared by the tests of this class (generated once: 6 frames).
    private static string _root = "";
    private static string _parent = "";

    [OneTimeSetUp]
    public void GenerateOnce()
    {
        _parent = TestPaths.NewTempDirectory("kitti-dataset");
        _root = Path.Combine(_parent, "synth");
        SyntheticKittiScenes.GenerateTree(_root, new SyntheticSplits(5, 1, 0), 5, NullProgressReporter.Instance);
    }

    [OneTimeTearDown]
    public void Cleanup() => Directory.Delete(_parent, recursive: true);

    private static string CopyOfTree()
    {
        var copy = Path.Combine(_parent, "copy-" + Guid.NewGuid().ToString("N")[..6]);
        foreach (var file in Directory.GetFiles(_root, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(_root, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    [Test]
    public void The_reader_loads_the_generated_tree_with_its_splits_and_detection_info()
    {
        var dataset = new KittiDataset(new KittiOptions { Root = _root }, RunServices.ForTesting());
        Assert.That(dataset.Splits, Is.EqualTo(new[] { "train", "trainval", "val" }));
        Assert.That(dataset.Info.Task, Is.EqualTo(ModelTask.Detection3D));
        Assert.That(dataset.Info.PointFeatures, Is.EqualTo(4));
        Assert.That(dataset.Info.ClassNames, Is.EqualTo(new[] { "Car", "Pedestrian", "Cyclist" }));
        Assert.That(dataset.DefaultEvaluator, Is.EqualTo("kitti-ap"));
        Assert.That(dataset.GetSplit("train").Count, Is.EqualTo(5));
        Assert.That(dataset.GetSplit("val").Count, Is.EqualTo(1));
        var e = Assert.Throws<KeyNotFoundException>(() => dataset.GetSplit("test"))!;
        Assert.That(e.Message, Does.Contain("train, trainval, val"));
    }

    [Test]
    public void A_sample_keeps_points_inside_the_range_and_the_camera_view_and_boxes_of_the_configured_classes()
    {
        var options = new KittiOptions { Root = _root };
        var dataset = new KittiDataset(options, RunServices.ForTesting());
        var sample = dataset.GetSplit("train").Get(0);
        var raw = KittiFiles.ReadVelodyne(Path.Combine(_root, "training", "velodyne", "000000.bin"));
        var geometry = new KittiGeometry(SyntheticKittiScenes.Calibration);
        Assert.That(sample.Id, Is.EqualTo("000000"));
        Assert.That(sample.PointCount, Is.GreaterThan(1000).And.LessThan(raw.Length / 4));
        var r = options.PointCloudRange;
        for (var i = 0; i < sample.PointCount; i++)
        {
            float x = sample.Points[4 * i], y = sample.Points[4 * i + 1], z = sample.Points[4 * i + 2];
            Assert.That(x >= r[0] && x < r[3] && y >= r[1] && y < r[4] && z >= r[2] && z < r[5], $"point {i} outside the range");
            var (cx, cy, cz) = geometry.LidarToRect(x, y, z);
            var (u, v, _) = geometry.RectToImage(cx, cy, cz);
            Assert.That(u is >= 0 and < 1242 && v is >= 0 and < 375, $"point {i} outside the image");
        }
        var annotation = (KittiFrameAnnotation)sample.Annotation!;
        var expected = annotation.Objects.Where(o => o.Type is "Car" or "Pedestrian" or "Cyclist").ToList();
        Assert.That(sample.Boxes, Has.Count.EqualTo(expected.Count));
        for (var k = 0; k < expected.Count; k++)
        {
            Assert.That(sample.Boxes[k].ClassId, Is.EqualTo(Array.IndexOf(options.Classes, expected[k].Type)));
            Assert.That(sample.Boxes[k], Is.EqualTo(geometry.CameraToLidar(expected[k], sample.Boxes[k].ClassId)));
        }
    }

    [Test]
    public void Max_points_keeps_a_fixed_random_subset_and_classes_choose_the_boxes()
    {
        var dataset = new KittiDataset(new KittiOptions { Root = _root, MaxPoints = 500, Classes = ["Pedestrian"], CropToCameraFov = false }, RunServices.ForTesting());
        var a = dataset.GetSplit("train").Get(1);
        var b = dataset.GetSplit("train").Get(1);
        Assert.That(a.PointCount, Is.EqualTo(500));
        Assert.That(b.Points, Is.EqualTo(a.Points));
        Assert.That(a.Boxes.All(x => x.ClassId == 0));
        var annotation = (KittiFrameAnnotation)a.Annotation!;
        Assert.That(a.Boxes.Count, Is.LessThanOrEqualTo(annotation.Objects.Count(o => o.Type == "Pedestrian")));
    }

    [Test]
    public void A_missing_root_without_the_synthetic_option_is_an_error_naming_the_option()
    {
        var missing = Path.Combine(_parent, "nowhere");
        var e = Assert.Throws<KittiFormatException>(() => new KittiDataset(new KittiOptions { Root = missing }, RunServices.ForTesting()))!;
        Assert.That(e.Message, Does.Contain(missing).And.Contain("Synthetic=true"));
    }

    [Test]
    public void A_missing_root_with_the_synthetic_option_is_generated_once_with_progress_and_then_reused()
    {
        var root = Path.Combine(_parent, "embedded-" + Guid.NewGuid().ToString("N")[..6]);
        var progress = new CountingProgress();
        var services = new RunServices(0, TorchSharp.torch.CPU, _parent, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, progress);
        var options = new KittiOptions { Root = root, Synthetic = true, SyntheticTrainFrames = 1, SyntheticValFrames = 1, SyntheticTestFrames = 1, SyntheticSeed = 9 };
        var first = new KittiDataset(options, services);
        Assert.That(progress.Advanced, Is.EqualTo(3));
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(root, "training", "velodyne", "000000.bin"));
        var second = new KittiDataset(options, services);
        Assert.That(progress.Advanced, Is.EqualTo(3), "the second dataset reuses the tree");
        Assert.That(File.GetLastWriteTimeUtc(Path.Combine(root, "training", "velodyne", "000000.bin")), Is.EqualTo(stamp));
        Assert.That(second.GetSplit("train").Count + second.GetSplit("val").Count + second.GetSplit("test").Count, Is.EqualTo(3));
        Assert.That(first.GetSplit("val").Get(0).Points, Is.EqualTo(second.GetSplit("val").Get(0).Points));

        // Other split sizes over the same folder would change every figure silently: refused, naming the folder and the sizes.
        var other = new KittiOptions { Root = root, Synthetic = true, SyntheticTrainFrames = 1, SyntheticValFrames = 2, SyntheticTestFrames = 1, SyntheticSeed = 9 };
        var e = Assert.Throws<KittiFormatException>(() => new KittiDataset(other, services))!;
        Assert.That(e.Message, Does.Contain(root).And.Contain("1 train, 1 val, 1 test").And.Contain("1 train, 2 val, 1 test").And.Contain("Delete the folder"));
    }

    [Test]
    public void A_frame_listed_in_ImageSets_but_missing_on_disk_stops_by_default_and_is_skipped_on_request()
    {
        var root = CopyOfTree();
        File.Delete(Path.Combine(root, "training", "velodyne", "000002.bin"));
        var dataset = new KittiDataset(new KittiOptions { Root = root }, RunServices.ForTesting());
        var e = Assert.Throws<KittiFormatException>(() => dataset.GetSplit("train"))!;
        Assert.That(e.Message, Does.Contain(Path.Combine(root, "training", "velodyne", "000002.bin")).And.Contain("missing").And.Contain("SkipBadFrames"));

        var lenient = new KittiDataset(new KittiOptions { Root = root, SkipBadFrames = true }, RunServices.ForTesting());
        Assert.That(lenient.GetSplit("train").Count, Is.EqualTo(4));
        Assert.That(lenient.SkippedFrames, Is.EqualTo(1));
    }

    [Test]
    public void Corrupt_scans_labels_and_calibrations_are_each_counted_when_skipping()
    {
        var root = CopyOfTree();
        File.WriteAllBytes(Path.Combine(root, "training", "velodyne", "000000.bin"), new byte[17]);
        File.AppendAllText(Path.Combine(root, "training", "label_2", "000001.txt"), "Car 0 0\n");
        File.WriteAllText(Path.Combine(root, "training", "calib", "000003.txt"), "P2: 1 2 3\n");
        var strict = new KittiDataset(new KittiOptions { Root = root }, RunServices.ForTesting());
        var e = Assert.Throws<KittiFormatException>(() => strict.GetSplit("train"))!;
        Assert.That(e.Message, Does.Contain("000000.bin").And.Contain("17 bytes"));
        var lenient = new KittiDataset(new KittiOptions { Root = root, SkipBadFrames = true }, RunServices.ForTesting());
        var train = (KittiSplit)lenient.GetSplit("train");
        Assert.That(train.FrameIds, Is.EqualTo(new[] { "000002", "000004" }));
        Assert.That(train.Skipped.Select(s => s.Id), Is.EqualTo(new[] { "000000", "000001", "000003" }));
        Assert.That(train.Skipped[1].Problem, Does.Contain("000001.txt:"));
        Assert.That(train.Skipped[2].Problem, Does.Contain("P2 has 3 values"));
    }

    [Test]
    public void Non_finite_points_are_dropped_and_counted_once_per_frame_for_the_report()
    {
        var root = CopyOfTree();
        var bin = Path.Combine(root, "training", "velodyne", "000001.bin");
        var points = KittiFiles.ReadVelodyne(bin);
        // Three points made non-finite in different fields: x, intensity, z.
        points[0] = float.NaN;
        points[4 * 5 + 3] = float.PositiveInfinity;
        points[4 * 9 + 2] = float.NegativeInfinity;
        File.WriteAllBytes(bin, System.Runtime.InteropServices.MemoryMarshal.AsBytes(points.AsSpan()).ToArray());
        var dataset = new KittiDataset(new KittiOptions { Root = root, CropToCameraFov = false, PointCloudRange = [-1000f, -1000f, -1000f, 1000f, 1000f, 1000f] }, RunServices.ForTesting());
        var train = dataset.GetSplit("train");

        var sample = train.Get(1);
        train.Get(1);   // a second epoch's read of the same frame
        train.Get(0);

        Assert.That(sample.Points.Length / 4, Is.EqualTo(points.Length / 4 - 3));
        Assert.That(sample.Points.All(float.IsFinite), Is.True);
        Assert.That(dataset.InputCounts["nonFinitePointsDropped"], Is.EqualTo(3));
        Assert.That(dataset.InputCounts["framesWithNonFinitePoints"], Is.EqualTo(1));
    }

    [TestCase("Car 0 0 0 0 0 10 10 1e30 1.6 3.9 10 1.5 20 0", "box size")]
    [TestCase("Car 0 0 0 0 0 10 10 1.5 1.6 3.9 1e7 1.5 20 0", "box location")]
    [TestCase("Car 0 0 0 -1e9 0 10 10 1.5 1.6 3.9 10 1.5 20 0", "2D box")]
    public void A_label_beyond_physical_sizes_is_refused_naming_the_file_and_line(string line, string what)
    {
        var root = CopyOfTree();
        var label = Path.Combine(root, "training", "label_2", "000002.txt");
        File.AppendAllText(label, line + "\n");
        var lines = File.ReadAllLines(label).Length;
        var e = Assert.Throws<KittiFormatException>(() => new KittiDataset(new KittiOptions { Root = root }, RunServices.ForTesting()).GetSplit("train"))!;
        Assert.That(e.Message, Does.Contain($"000002.txt:{lines}:").And.Contain(what));
    }

    [Test]
    public void The_devkit_DontCare_placeholders_stay_inside_the_label_limits()
    {
        var o = KittiFiles.ParseLabelLine("DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10", "x.txt", 1);
        Assert.That(o.Type, Is.EqualTo("DontCare"));
    }

    [Test]
    public void The_test_split_reads_the_unlabelled_testing_folder()
    {
        var root = CopyOfTree();
        foreach (var sub in new[] { "velodyne", "calib" })
        {
            Directory.CreateDirectory(Path.Combine(root, "testing", sub));
            var ext = sub == "velodyne" ? ".bin" : ".txt";
            File.Copy(Path.Combine(root, "training", sub, "000000" + ext), Path.Combine(root, "testing", sub, "000000" + ext));
        }
        File.WriteAllText(Path.Combine(root, "ImageSets", "test.txt"), "000000\n");
        var test = new KittiDataset(new KittiOptions { Root = root }, RunServices.ForTesting()).GetSplit("test");
        var sample = test.Get(0);
        Assert.That(sample.PointCount, Is.GreaterThan(1000));
        Assert.That(sample.Boxes, Is.Empty);
        Assert.That(((KittiFrameAnnotation)sample.Annotation!).Objects, Is.Empty);
    }

    [Test]
    public void A_bad_point_cloud_range_is_refused_naming_the_option()
    {
        var e = Assert.Throws<ArgumentException>(() => new KittiDataset(new KittiOptions { Root = _root, PointCloudRange = [0, 0, 0, 1, 1] }, RunServices.ForTesting()))!;
        Assert.That(e.Message, Does.Contain("PointCloudRange"));
    }

    private sealed class CountingProgress : IProgressReporter, IProgressTask
    {
        public long Advanced { get; private set; }
        public IProgressTask Start(string description, long total) => this;
        public void Advance(long amount = 1, string? status = null) => Advanced += amount;
        public void Dispose() { }
    }
}
