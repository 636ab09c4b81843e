using System.Diagnostics;
using System.Text;
using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

/// <summary>
/// Every KITTI reader, fed mutated versions of a valid file, either reads it or fails with a KittiFormatException
/// (which names the file and, for text, the line): no other exception, no hang (issue 15).
/// </summary>
public class ReaderFuzzTests
{
    private const int Variants = 400;

    private const string Labels = """
        Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59
        Pedestrian 0.00 2 0.21 423.17 173.67 433.17 224.03 1.60 0.38 0.30 -5.87 1.63 23.11 -0.03
        DontCare -1 -1 -10 0.00 191.00 77.00 212.00 -1 -1 -1 -1000 -1000 -1000 -10

        """;

    private const string Calibration = """
        P0: 7.215377e+02 0.000000e+00 6.095593e+02 0.000000e+00 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
        P1: 7.215377e+02 0.000000e+00 6.095593e+02 -3.875744e+02 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
        P2: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
        P3: 7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 7.215377e+02 1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 2.729905e-03
        R0_rect: 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01
        Tr_velo_to_cam: 7.533745e-03 -9.999714e-01 -6.166020e-04 -4.069766e-03 1.480249e-02 7.280733e-04 -9.998902e-01 -7.631618e-02 9.998621e-01 7.523790e-03 1.480755e-02 -2.717806e-01
        Tr_imu_to_velo: 9.999976e-01 7.553071e-04 -2.035826e-03 -8.086759e-01 -7.854027e-04 9.998898e-01 -1.482298e-02 3.195559e-01 2.024406e-03 1.482454e-02 9.998881e-01 -7.997231e-01

        """;

    private static void Fuzz(string name, byte[] valid, Action<string> read)
    {
        var watch = Stopwatch.StartNew();
        ReaderFuzz.Check<KittiFormatException>(name, valid, Variants, seed: name.Length, read);
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)));
    }

    [Test]
    public void Mutated_label_files_are_read_or_refused_by_name() =>
        Fuzz("000000.txt", Encoding.UTF8.GetBytes(Labels), f => KittiFiles.ReadLabels(f));

    [Test]
    public void Mutated_calibration_files_are_read_or_refused_by_name() =>
        Fuzz("calib.txt", Encoding.UTF8.GetBytes(Calibration), f => KittiFiles.ReadCalibration(f));

    [Test]
    public void Mutated_image_sets_are_read_or_refused_by_name() =>
        Fuzz("val.txt", Encoding.UTF8.GetBytes("000000\n000001\n000002\n"), f => KittiFiles.ReadImageSet(f));

    [Test]
    public void Mutated_velodyne_scans_are_read_or_refused_by_name()
    {
        var points = new float[4 * 64];
        new Random(5).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(points.AsSpan()));
        Fuzz("000000.bin", System.Runtime.InteropServices.MemoryMarshal.AsBytes(points.AsSpan()).ToArray(), f => KittiFiles.ReadVelodyne(f));
    }
}
