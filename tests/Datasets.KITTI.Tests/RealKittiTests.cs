using Platform.Abstractions.Components;
using Platform.Plugins.Datasets.KITTI;
using Platform.TestKit;

namespace Platform.Plugins.Datasets.KITTI.Tests;

/// <summary>Three real KITTI frames from the shared folder (skipped where it is absent).</summary>
public class RealKittiTests
{
    private static KittiDataset Open()
    {
        if (!Directory.Exists(TestPaths.KittiSample)) Assert.Ignore($"Real KITTI sample frames not found at {TestPaths.KittiSample}.");
        return new KittiDataset(new KittiOptions { Root = TestPaths.KittiSample }, RunServices.ForTesting());
    }

    [Test]
    public void Real_frames_load_with_their_labels_and_KITTI_sized_scans()
    {
        var val = Open().GetSplit("val");
        Assert.That(val.Count, Is.EqualTo(3));
        var frames = Enumerable.Range(0, 3).Select(val.Get).ToArray();
        // Frame 000000: one pedestrian; 000001: a car and a cyclist (the truck is not a configured class); 000002: a car.
        Assert.That(frames.Select(f => f.Boxes.Count), Is.EqualTo(new[] { 1, 2, 1 }));
        Assert.That(frames[0].Boxes[0].ClassId, Is.EqualTo(1));
        Assert.That(frames[1].Boxes.Select(b => b.ClassId), Is.EquivalentTo(new[] { 0, 2 }));
        var annotation = (KittiFrameAnnotation)frames[1].Annotation!;
        Assert.That(annotation.Objects.Count(o => o.IsDontCare), Is.EqualTo(4));
        Assert.That(annotation.Objects.Select(o => o.Type), Does.Contain("Truck"));
        // Raw scans hold 115,384 / 120,268 / 126,891 points; the camera view keeps roughly a sixth to a quarter.
        var raw = new[] { 1846144 / 16, 1924288 / 16, 2030256 / 16 };
        for (var f = 0; f < 3; f++)
        {
            Assert.That(frames[f].PointCount, Is.InRange(raw[f] / 8, raw[f] / 2), frames[f].Id);
            for (var i = 0; i < frames[f].PointCount; i++)
                Assert.That(frames[f].Points[4 * i + 3], Is.InRange(0f, 1f), "reflectance");
        }
    }

    [Test]
    public void Real_boxes_in_the_lidar_frame_sit_where_the_scan_has_returns()
    {
        var val = Open().GetSplit("val");
        foreach (var index in new[] { 0, 2 })
        {
            var sample = val.Get(index);
            foreach (var box in sample.Boxes)
            {
                // A label converted with the wrong axes or sign lands in empty space; these objects are within 35 m.
                Assert.That(SyntheticScenesTests.PointsInBox(sample.Points, box, 0.1f), Is.GreaterThan(20), $"{sample.Id}: {box}");
                Assert.That(box.Z - box.Height / 2, Is.InRange(-2.3, -1.3), "boxes stand on the road about 1.73 m below the sensor (real roads slope a little)");
            }
        }
        // 000000's pedestrian: camera (1.84, 1.47, 8.41) is about 8.7 m ahead and 1.8 m to the right in the lidar frame.
        var ped = val.Get(0).Boxes[0];
        Assert.That(ped.X, Is.EqualTo(8.7).Within(0.1));
        Assert.That(ped.Y, Is.EqualTo(-1.85).Within(0.1));
    }
}
