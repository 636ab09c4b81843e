using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Abstractions.Tests;

public class RotatedRectangleTests
{
    [Test]
    public void Identical_boxes_have_IoU_one()
    {
        Assert.That(RotatedRectangle.Iou(3, 4, 4, 2, 0.3, 3, 4, 4, 2, 0.3), Is.EqualTo(1).Within(1e-12));
    }

    [Test]
    public void A_box_shifted_by_half_its_length_has_IoU_one_third()
    {
        // 4 x 2 boxes, shifted 2 m along the length, both rotated by 30 degrees: overlap 2 x 2 = 4, union 12.
        var a = Math.PI / 6;
        Assert.That(RotatedRectangle.Iou(0, 0, 4, 2, a, 2 * Math.Cos(a), 2 * Math.Sin(a), 4, 2, a), Is.EqualTo(1.0 / 3).Within(1e-9));
    }

    [Test]
    public void A_box_turned_by_ninety_degrees_overlaps_in_its_width_square()
    {
        // 4 x 2 against the same turned 90 degrees: intersection 2 x 2 = 4, union 8 + 8 - 4 = 12.
        Assert.That(RotatedRectangle.Iou(1, 1, 4, 2, 0, 1, 1, 4, 2, Math.PI / 2), Is.EqualTo(1.0 / 3).Within(1e-9));
        // A square turned 90 degrees is the same square.
        Assert.That(RotatedRectangle.Iou(1, 1, 2, 2, 0, 1, 1, 2, 2, Math.PI / 2), Is.EqualTo(1).Within(1e-9));
    }

    [Test]
    public void A_square_and_itself_turned_45_degrees_meet_in_a_regular_octagon()
    {
        // Octagon with apothem 1: area 8 tan(pi/8) = 8 (sqrt2 - 1); IoU = that / (8 - that) = sqrt2 / 2.
        var inter = RotatedRectangle.IntersectionArea(0, 0, 2, 2, 0, 0, 0, 2, 2, Math.PI / 4);
        Assert.That(inter, Is.EqualTo(8 * (Math.Sqrt(2) - 1)).Within(1e-9));
        Assert.That(RotatedRectangle.Iou(0, 0, 2, 2, 0, 0, 0, 2, 2, Math.PI / 4), Is.EqualTo(Math.Sqrt(2) / 2).Within(1e-9));
    }

    [Test]
    public void Disjoint_and_touching_boxes_have_IoU_zero()
    {
        Assert.That(RotatedRectangle.Iou(0, 0, 4, 2, 0.2, 10, 0, 4, 2, -0.4), Is.EqualTo(0));
        // Sharing the edge x = 2 exactly.
        Assert.That(RotatedRectangle.Iou(0, 0, 4, 2, 0, 4, 0, 4, 2, 0), Is.EqualTo(0).Within(1e-12));
        // Touching corner to corner after a 45 degree turn: the diamond's tip touches the square's edge.
        Assert.That(RotatedRectangle.Iou(0, 0, 2, 2, 0, 1 + Math.Sqrt(2), 0, 2, 2, Math.PI / 4), Is.EqualTo(0).Within(1e-9));
    }

    [Test]
    public void Lidar_boxes_overlap_in_their_x_y_rectangles()
    {
        var a = new Box3D(0, 0, 0, 4, 2, 1, 0, 0);
        Assert.That(RotatedRectangle.BevIou(a, a), Is.EqualTo(1).Within(1e-9));
        // Shifted by half its length: overlap 2 x 2 = 4 of union 8 + 8 − 4 = 12.
        Assert.That(RotatedRectangle.BevIou(a, a with { X = 2 }), Is.EqualTo(4.0 / 12).Within(1e-6));
        // A 2 x 2 square turned by 45° about the same centre: intersection is the octagon 8(√2 − 1), union 8 − that.
        var square = new Box3D(0, 0, 0, 2, 2, 1, 0, 0);
        var octagon = 8 * (Math.Sqrt(2) - 1);
        Assert.That(RotatedRectangle.BevIou(square, square with { Yaw = MathF.PI / 4 }), Is.EqualTo(octagon / (8 - octagon)).Within(1e-5));
        Assert.That(RotatedRectangle.BevIou(a, a with { X = 10 }), Is.EqualTo(0));
    }
}
