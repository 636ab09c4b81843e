using Platform.Plugins.Datasets.KITTI;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class RotatedBoxOverlapTests
{
    [Test]
    public void Identical_boxes_have_IoU_one()
    {
        Assert.That(RotatedBoxOverlap.Iou(3, 4, 4, 2, 0.3, 3, 4, 4, 2, 0.3), Is.EqualTo(1).Within(1e-12));
    }

    [Test]
    public void A_box_shifted_by_half_its_length_has_IoU_one_third()
    {
        // 4 x 2 boxes, shifted 2 m along the length, both rotated by 30 degrees: overlap 2 x 2 = 4, union 12.
        var a = Math.PI / 6;
        Assert.That(RotatedBoxOverlap.Iou(0, 0, 4, 2, a, 2 * Math.Cos(a), 2 * Math.Sin(a), 4, 2, a), Is.EqualTo(1.0 / 3).Within(1e-9));
    }

    [Test]
    public void A_box_turned_by_ninety_degrees_overlaps_in_its_width_square()
    {
        // 4 x 2 against the same turned 90 degrees: intersection 2 x 2 = 4, union 8 + 8 - 4 = 12.
        Assert.That(RotatedBoxOverlap.Iou(1, 1, 4, 2, 0, 1, 1, 4, 2, Math.PI / 2), Is.EqualTo(1.0 / 3).Within(1e-9));
        // A square turned 90 degrees is the same square.
        Assert.That(RotatedBoxOverlap.Iou(1, 1, 2, 2, 0, 1, 1, 2, 2, Math.PI / 2), Is.EqualTo(1).Within(1e-9));
    }

    [Test]
    public void A_square_and_itself_turned_45_degrees_meet_in_a_regular_octagon()
    {
        // Octagon with apothem 1: area 8 tan(pi/8) = 8 (sqrt2 - 1); IoU = that / (8 - that) = sqrt2 / 2.
        var inter = RotatedBoxOverlap.IntersectionArea(0, 0, 2, 2, 0, 0, 0, 2, 2, Math.PI / 4);
        Assert.That(inter, Is.EqualTo(8 * (Math.Sqrt(2) - 1)).Within(1e-9));
        Assert.That(RotatedBoxOverlap.Iou(0, 0, 2, 2, 0, 0, 0, 2, 2, Math.PI / 4), Is.EqualTo(Math.Sqrt(2) / 2).Within(1e-9));
    }

    [Test]
    public void Disjoint_and_touching_boxes_have_IoU_zero()
    {
        Assert.That(RotatedBoxOverlap.Iou(0, 0, 4, 2, 0.2, 10, 0, 4, 2, -0.4), Is.EqualTo(0));
        // Sharing the edge x = 2 exactly.
        Assert.That(RotatedBoxOverlap.Iou(0, 0, 4, 2, 0, 4, 0, 4, 2, 0), Is.EqualTo(0).Within(1e-12));
        // Touching corner to corner after a 45 degree turn: the diamond's tip touches the square's edge.
        Assert.That(RotatedBoxOverlap.Iou(0, 0, 2, 2, 0, 1 + Math.Sqrt(2), 0, 2, 2, Math.PI / 4), Is.EqualTo(0).Within(1e-9));
    }

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
