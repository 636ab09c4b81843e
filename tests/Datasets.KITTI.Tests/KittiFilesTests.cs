using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class KittiFilesTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewTempDirectory("kitti-files");

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_label_line_has_the_fifteen_devkit_fields_in_order()
    {
        var o = KittiFiles.ParseLabelLine("Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01", "f", 1);
        Assert.That(o.Type, Is.EqualTo("Pedestrian"));
        Assert.That((o.Truncated, o.Occluded, o.Alpha), Is.EqualTo((0.0, 0, -0.20)));
        Assert.That((o.Left, o.Top, o.Right, o.Bottom), Is.EqualTo((712.40, 143.00, 810.73, 307.92)));
        Assert.That((o.Height, o.Width, o.Length), Is.EqualTo((1.89, 0.48, 1.20)));
        Assert.That((o.X, o.Y, o.Z, o.RotationY), Is.EqualTo((1.84, 1.47, 8.41, 0.01)));
        Assert.That(o.Score, Is.EqualTo(1.0), "ground truth has no score field");
        Assert.That(o.BoxHeight2D, Is.EqualTo(307.92 - 143.00).Within(1e-9));
    }

    [Test]
    public void A_result_line_carries_a_sixteenth_score_field_and_round_trips_through_the_writer()
    {
        var o = new KittiObject("Car", 0.1, 1, -1.5, 10, 20, 110, 80, 1.5, 1.6, 3.9, 1.25, 1.7, 20.5, 0.3, 0.875);
        var text = KittiFiles.FormatLabels([o], withScore: true);
        Assert.That(text, Is.EqualTo("Car 0.10 1 -1.50 10.00 20.00 110.00 80.00 1.50 1.60 3.90 1.25 1.70 20.50 0.30 0.8750\n"));
        var back = KittiFiles.ParseLabelLine(text.TrimEnd(), "f", 1);
        Assert.That(back, Is.EqualTo(o));
    }

    [Test]
    public void A_label_line_with_the_wrong_number_of_fields_names_the_file_and_line()
    {
        var path = Path.Combine(_dir, "000007.txt");
        File.WriteAllText(path, "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56\nCar 0 0 1\n");
        var e = Assert.Throws<KittiFormatException>(() => KittiFiles.ReadLabels(path))!;
        Assert.That(e.Message, Does.Contain(path + ":2:").And.Contain("expected 15 fields").And.Contain("found 4"));
    }

    [Test]
    public void A_label_field_that_is_not_a_number_is_named_with_its_line()
    {
        var path = Path.Combine(_dir, "000008.txt");
        File.WriteAllText(path, "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 abc 2.63 12.34 0.47 1.49 69.44 -1.56\n");
        var e = Assert.Throws<KittiFormatException>(() => KittiFiles.ReadLabels(path))!;
        Assert.That(e.Message, Does.Contain(path + ":1:").And.Contain("field 9 (height)").And.Contain("'abc'"));
    }

    [Test]
    public void A_velodyne_file_whose_size_is_not_a_multiple_of_16_bytes_is_refused_by_name()
    {
        var path = Path.Combine(_dir, "000001.bin");
        File.WriteAllBytes(path, new byte[16 * 3 + 5]);
        var e = Assert.Throws<KittiFormatException>(() => KittiFiles.ReadVelodyne(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("53 bytes").And.Contain("multiple of 16"));
    }

    [Test]
    public void A_velodyne_file_is_read_as_float32_quadruples()
    {
        var path = Path.Combine(_dir, "000002.bin");
        KittiFiles.WriteVelodyne(path, new float[] { 1, 2, 3, 0.5f, -4, 5.5f, -1.75f, 0 });
        Assert.That(new FileInfo(path).Length, Is.EqualTo(32));
        Assert.That(KittiFiles.ReadVelodyne(path), Is.EqualTo(new float[] { 1, 2, 3, 0.5f, -4, 5.5f, -1.75f, 0 }));
    }

    [Test]
    public void A_calibration_file_missing_a_matrix_is_refused_naming_the_matrix()
    {
        var path = Path.Combine(_dir, "calib.txt");
        var text = KittiFiles.FormatCalibration(SyntheticKittiScenes.Calibration);
        File.WriteAllText(path, string.Join('\n', text.Split('\n').Where(l => !l.StartsWith("Tr_velo_to_cam", StringComparison.Ordinal))));
        var e = Assert.Throws<KittiFormatException>(() => KittiFiles.ReadCalibration(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("Tr_velo_to_cam is missing"));
    }

    [Test]
    public void A_calibration_round_trips_through_the_writer()
    {
        var path = Path.Combine(_dir, "calib.txt");
        File.WriteAllText(path, KittiFiles.FormatCalibration(SyntheticKittiScenes.Calibration));
        var c = KittiFiles.ReadCalibration(path);
        Assert.That(c.P2, Is.EqualTo(SyntheticKittiScenes.Calibration.P2).Within(1e-9));
        Assert.That(c.R0Rect, Is.EqualTo(SyntheticKittiScenes.Calibration.R0Rect).Within(1e-9));
        Assert.That(c.VeloToCam, Is.EqualTo(SyntheticKittiScenes.Calibration.VeloToCam).Within(1e-9));
    }
}
