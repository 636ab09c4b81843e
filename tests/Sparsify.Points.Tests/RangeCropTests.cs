namespace Platform.Plugins.Sparsify.Points.Tests;

public class RangeCropTests
{
    [Test]
    public void A_box_crop_keeps_exactly_the_points_inside_with_bounds_inclusive()
    {
        var sample = Clouds.Of(
            (0f, 0f, 0f, 1),       // inside
            (10f, -5f, 1f, 2),     // on MaxX and MinY: kept
            (10.01f, 0f, 0f, 3),   // past MaxX
            (5f, 5.5f, 0f, 4),     // past MaxY
            (5f, 0f, -2.5f, 5),    // below MinZ
            (-1f, 0f, 0f, 6));     // below MinX
        var crop = new RangeCrop(new RangeCropOptions { MinX = -0.5f, MaxX = 10f, MinY = -5f, MaxY = 5f, MinZ = -2f, MaxZ = 1f });

        Assert.That(Clouds.Tags(crop.Apply(sample, 0)), Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void A_distance_band_uses_the_horizontal_range()
    {
        var sample = Clouds.Of(
            (1f, 1f, 0f, 1),     // r = 1.41: inside the ego-vehicle radius
            (3f, 4f, -9f, 2),    // r = 5 exactly, z ignored: kept
            (0f, 30f, 0f, 3),    // r = 30: kept
            (40f, 9f, 0f, 4));   // r = 41: too far
        var crop = new RangeCrop(new RangeCropOptions { MinDistance = 2f, MaxDistance = 40f });

        Assert.That(Clouds.Tags(crop.Apply(sample, 0)), Is.EqualTo(new[] { 2f, 3f }));
    }

    [Test]
    public void A_forward_field_of_view_keeps_azimuths_within_half_the_angle()
    {
        var sample = Clouds.Of(
            (1f, 0f, 0f, 1),     // 0 deg
            (1f, 0.9f, 0f, 2),   // 42.0 deg
            (1f, 1.1f, 0f, 3),   // 47.7 deg
            (1f, -0.9f, 0f, 4),  // -42.0 deg
            (-1f, 0f, 0f, 5),    // 180 deg
            (0f, 1f, 0f, 6));    // 90 deg
        var crop = new RangeCrop(new RangeCropOptions { FieldOfView = 90f });

        Assert.That(Clouds.Tags(crop.Apply(sample, 0)), Is.EqualTo(new[] { 1f, 2f, 4f }));
    }

    [Test]
    public void A_rear_field_of_view_wraps_around_180_degrees()
    {
        var sample = Clouds.Of(
            (-1f, 0.5f, 0f, 1),   // 153.4 deg: 26.6 from 180
            (-1f, -0.5f, 0f, 2),  // -153.4 deg: 26.6 from 180 the other way
            (1f, 0f, 0f, 3),      // 0 deg
            (0f, -1f, 0f, 4));    // -90 deg: 90 from 180
        var crop = new RangeCrop(new RangeCropOptions { FieldOfView = 60f, FieldOfViewCenter = 180f });

        Assert.That(Clouds.Tags(crop.Apply(sample, 0)), Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void Without_bounds_every_point_is_kept()
    {
        var sample = Clouds.Spread(100);
        Assert.That(new RangeCrop(new RangeCropOptions()).Apply(sample, 0).Points, Is.EqualTo(sample.Points));
    }

    [Test]
    public void A_minimum_not_below_its_maximum_is_refused_naming_both_options()
    {
        var error = Assert.Throws<ArgumentException>(() => new RangeCrop(new RangeCropOptions { MinY = 3f, MaxY = 3f }));
        Assert.That(error!.Message, Does.Contain("MinY").And.Contain("MaxY"));
    }

    [Test]
    public void A_field_of_view_over_360_degrees_is_refused_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(() => new RangeCrop(new RangeCropOptions { FieldOfView = 400f }));
        Assert.That(error!.Message, Does.Contain("FieldOfView"));
    }

    [Test]
    public void Describe_lists_only_the_bounds_that_are_set()
    {
        var text = new RangeCrop(new RangeCropOptions { MinX = 0f, MaxX = 70.4f, FieldOfView = 90f }).Describe();
        Assert.That(text, Is.EqualTo("range-crop: x in [0, 70.4], azimuth within 45 deg of 0 deg"));
    }
}
