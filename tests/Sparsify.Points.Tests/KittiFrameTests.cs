using System.Runtime.InteropServices;
using Platform.Abstractions.Data;
using Platform.TestKit;

namespace Platform.Plugins.Sparsify.Points.Tests;

/// <summary>The transforms on a real KITTI scan (shared/data/kitti-sample, frame 000000: ~115k points of x, y, z, reflectance).</summary>
public class KittiFrameTests
{
    private static Sample Frame000000()
    {
        var path = Path.Combine(TestPaths.KittiSample, "training", "velodyne", "000000.bin");
        Assume.That(File.Exists(path), "the shared KITTI sample is not laid beside the checkout: " + path);
        var points = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
        return new Sample { Id = "000000", Points = points, PointFeatures = 4 };
    }

    [Test]
    public void The_ground_plane_of_a_real_scan_is_level_and_1_73_m_below_the_lidar()
    {
        var frame = Frame000000();
        var plane = new GroundRemoval(new GroundRemovalOptions()).FitGroundPlane(frame.Points, 4, seed: 0)!.Value;

        // KITTI's Velodyne is mounted 1.73 m above the road (Geiger et al., IJRR 2013, fig. 3).
        var heightBelowSensor = plane.Offset / plane.NormalZ; // plane at x = y = 0: z = -d / n_z
        Assert.That(plane.SlopeDegrees, Is.LessThan(3));
        Assert.That(heightBelowSensor, Is.InRange(1.5, 1.95));
        Assert.That(plane.Inliers, Is.GreaterThan(frame.PointCount / 4));
    }

    [Test]
    public void Every_transform_on_a_real_scan_keeps_whole_rows_and_is_repeatable_by_seed()
    {
        var frame = Frame000000();
        IPointTransform[] transforms =
        [
            new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 0.2f }),
            new RandomDrop(new RandomDropOptions { KeepRatio = 0.25f }),
            new RangeCrop(new RangeCropOptions { MinX = 0, MaxX = 69.12f, MinY = -39.68f, MaxY = 39.68f, MinZ = -3, MaxZ = 1 }),
            new GroundRemoval(new GroundRemovalOptions()),
            new DistanceAdaptiveDrop(new DistanceAdaptiveOptions()),
        ];
        foreach (var transform in transforms)
        {
            var once = transform.Apply(frame, 17);
            Assert.That(once.PointCount, Is.InRange(1, frame.PointCount - 1), transform.Describe());
            Assert.That(once.Points.Length, Is.EqualTo(once.PointCount * 4));
            Assert.That(transform.Apply(frame, 17).Points, Is.EqualTo(once.Points), transform.Describe());
        }
    }
}
