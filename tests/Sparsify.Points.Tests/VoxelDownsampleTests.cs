using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points.Tests;

public class VoxelDownsampleTests
{
    // With 1 m voxels: A, B, E share voxel (0,0,0); C is in (1,0,0); D is in (-1,0,0) (floor of -0.5 is -1).
    private static Sample HandMade() => Clouds.Of(
        (0.1f, 0.1f, 0.1f, 0.2f),   // A
        (0.5f, 0.9f, 0.3f, 0.4f),   // B
        (1.5f, 0.2f, 0.2f, 1.0f),   // C
        (-0.5f, 0.5f, 0.5f, 0.6f),  // D
        (0.9f, 0.1f, 0.7f, 0.0f));  // E

    [Test]
    public void Centroid_mode_averages_every_feature_of_a_voxel_and_keeps_voxels_in_first_hit_order()
    {
        var result = new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 1f, Mode = VoxelMode.Centroid }).Apply(HandMade(), 0);

        Assert.That(result.PointCount, Is.EqualTo(3));
        float[] expected =
        [
            (0.1f + 0.5f + 0.9f) / 3, (0.1f + 0.9f + 0.1f) / 3, (0.1f + 0.3f + 0.7f) / 3, (0.2f + 0.4f + 0.0f) / 3,
            1.5f, 0.2f, 0.2f, 1.0f,
            -0.5f, 0.5f, 0.5f, 0.6f,
        ];
        Assert.That(result.Points, Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void First_mode_keeps_the_first_point_of_each_voxel_unchanged()
    {
        var result = new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 1f, Mode = VoxelMode.First }).Apply(HandMade(), 0);

        Assert.That(Clouds.Tags(result), Is.EqualTo(new[] { 0.2f, 1.0f, 0.6f }));  // A, C, D
        Assert.That(result.Points.AsSpan(0, 4).ToArray(), Is.EqualTo(new[] { 0.1f, 0.1f, 0.1f, 0.2f }));
    }

    [Test]
    public void A_per_axis_size_overrides_the_common_size_on_that_axis_only()
    {
        // 2 m along x puts C (x = 1.5) in A's voxel; D stays apart at x index -1.
        var options = new VoxelDownsampleOptions { VoxelSize = 1f, VoxelSizeX = 2f, Mode = VoxelMode.First };
        var result = new VoxelDownsample(options).Apply(HandMade(), 0);

        Assert.That(Clouds.Tags(result), Is.EqualTo(new[] { 0.2f, 0.6f }));
    }

    [Test]
    public void Voxels_smaller_than_the_point_spacing_keep_every_point()
    {
        var sample = HandMade();
        var result = new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 0.01f, Mode = VoxelMode.Centroid }).Apply(sample, 0);

        Assert.That(result.Points, Is.EqualTo(sample.Points).Within(1e-6f));
    }

    [Test]
    public void The_sample_keeps_its_id_label_boxes_and_point_features()
    {
        var sample = HandMade();
        var result = new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 1f }).Apply(sample, 0);

        Assert.That(result.Id, Is.EqualTo(sample.Id));
        Assert.That(result.Label, Is.EqualTo(3));
        Assert.That(result.Boxes, Is.EqualTo(sample.Boxes));
        Assert.That(result.PointFeatures, Is.EqualTo(4));
    }

    [TestCase(-0.1f)]
    [TestCase(0f)]
    public void A_voxel_size_that_is_not_positive_is_refused_naming_the_option(float size)
    {
        var error = Assert.Throws<ArgumentException>(() => new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = size }));
        Assert.That(error!.Message, Does.Contain("VoxelSize").And.Contain("voxel-downsample"));
    }

    [Test]
    public void A_negative_per_axis_size_is_refused_naming_that_axis()
    {
        var error = Assert.Throws<ArgumentException>(() => new VoxelDownsample(new VoxelDownsampleOptions { VoxelSizeZ = -1f }));
        Assert.That(error!.Message, Does.Contain("VoxelSizeZ"));
    }

    [Test]
    public void A_buffer_that_is_not_whole_rows_is_refused_naming_the_sample()
    {
        var broken = new Sample { Id = "frame-000042", Points = new float[10], PointFeatures = 4 };
        var error = Assert.Throws<ArgumentException>(() => new VoxelDownsample(new VoxelDownsampleOptions()).Apply(broken, 0));
        Assert.That(error!.Message, Does.Contain("frame-000042"));
    }

    [TestCase(float.NaN)]
    [TestCase(1e9f)] // 1e10 voxels of 0.1 m: past the +-2^20 voxel indices a key holds
    public void A_point_without_a_voxel_is_refused_naming_the_sample_point_and_axis(float y)
    {
        var sample = Clouds.Of((0f, 0f, 0f, 0), (1f, y, 0f, 1));
        var error = Assert.Throws<ArgumentException>(() => new VoxelDownsample(new VoxelDownsampleOptions()).Apply(sample, 0));
        Assert.That(error!.Message, Does.Contain("'hand-made' point 1 has y="));
    }

    [Test]
    public void Points_on_both_sides_of_the_origin_fall_in_different_voxels()
    {
        // floor(-0.05 / 0.1) = -1 and floor(0.05 / 0.1) = 0: the packed keys of -1 and 0 must differ on every axis.
        var sample = Clouds.Of((-0.05f, 0.05f, 0.05f, 1), (0.05f, 0.05f, 0.05f, 2), (0.05f, -0.05f, 0.05f, 3), (0.05f, 0.05f, -0.05f, 4));
        var result = new VoxelDownsample(new VoxelDownsampleOptions { Mode = VoxelMode.First }).Apply(sample, 0);
        Assert.That(Clouds.Tags(result), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
    }

    [Test]
    public void Describe_states_the_size_and_the_mode()
    {
        var text = new VoxelDownsample(new VoxelDownsampleOptions { VoxelSize = 0.2f, Mode = VoxelMode.First }).Describe();
        Assert.That(text, Is.EqualTo("voxel-downsample: 0.2 m voxels, first point per voxel"));
    }
}
