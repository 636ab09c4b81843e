using Platform.Plugins.Datasets.KITTI;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class RotatedBoxOverlapTests
{
    [Test]
    public void Three_d_IoU_multiplies_the_BEV_overlap_by_the_overlap_in_camera_y()
    {
        // Same footprint 4 x 2 (area 8), heights 2 with bottoms at y = 1.5 and y = 0.5 (Y points down): 1 m shared.
        var a = new KittiObject("Car", 0, 0, 0, 0, 0, 0, 0, 2, 2, 4, 3, 1.5f, 20, 0.4f);
        var b = a with { Y = 0.5f };
        Assert.That(RotatedBoxOverlap.BevIou(a, b), Is.EqualTo(1).Within(1e-6));
        Assert.That(RotatedBoxOverlap.Iou3D(a, b), Is.EqualTo(8.0 / (16 + 16 - 8)).Within(1e-6));
        Assert.That(RotatedBoxOverlap.Iou3D(a, a with { Y = -0.5f }), Is.EqualTo(0), "stacked boxes touch, no volume shared");
    }

    [Test]
    public void BEV_IoU_in_the_camera_frame_follows_rotation_y_about_the_down_axis()
    {
        // Length 4 along camera x at ry = 0; at ry = pi/2 the length lies along camera z.
        var a = new KittiObject("Car", 0, 0, 0, 0, 0, 0, 0, 1.5f, 2, 4, 0, 1, 20, 0);
        // Shift 2 m along x: half overlap at ry = 0 ...
        Assert.That(RotatedBoxOverlap.BevIou(a, a with { X = 2 }), Is.EqualTo(1.0 / 3).Within(1e-6));
        // ... and at ry = pi/2 the same shift along z is the half overlap.
        var turned = a with { RotationY = (float)(Math.PI / 2) };
        Assert.That(RotatedBoxOverlap.BevIou(turned, turned with { Z = 22 }), Is.EqualTo(1.0 / 3).Within(1e-6));
    }

    [Test]
    public void Image_boxes_overlap_as_the_devkit_computes_it_without_the_extra_pixel()
    {
        var a = new KittiObject("Car", 0, 0, 0, 0, 0, 100, 100, 0, 0, 0, 0, 0, 0, 0);
        var b = a with { Left = 50, Right = 150 };
        Assert.That(RotatedBoxOverlap.ImageOverlap(a, b), Is.EqualTo(5000.0 / 15000).Within(1e-12));
        Assert.That(RotatedBoxOverlap.ImageOverlap(a, b, overFirstArea: true), Is.EqualTo(0.5).Within(1e-12));
    }
}
