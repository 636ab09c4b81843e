namespace Platform.Plugins.Sparsify.Points.Tests;

public class RandomDropTests
{
    [Test]
    public void Keep_ratio_one_is_the_identity()
    {
        var sample = Clouds.Spread(500);
        var result = new RandomDrop(new RandomDropOptions { KeepRatio = 1f }).Apply(sample, 123);

        Assert.That(result.Points, Is.EqualTo(sample.Points));
        Assert.That(result, Is.EqualTo(sample));
    }

    [Test]
    public void It_keeps_exactly_the_rounded_fraction_as_original_rows_in_original_order()
    {
        var sample = Clouds.Spread(1001);
        var result = new RandomDrop(new RandomDropOptions { KeepRatio = 0.3f }).Apply(sample, 5);

        Assert.That(result.PointCount, Is.EqualTo(300)); // round(1001 * 0.3) = round(300.3)
        var tags = Clouds.Tags(result);
        Assert.That(tags, Is.Ordered.Ascending);
        Assert.That(tags, Is.Unique);
        foreach (var tag in tags)
        {
            var row = (int)tag;
            Assert.That(result.Points.AsSpan(Array.IndexOf(tags, tag) * 4, 4).ToArray(), Is.EqualTo(sample.Points.AsSpan(row * 4, 4).ToArray()));
        }
    }

    [Test]
    public void The_same_seed_gives_the_same_points_and_another_seed_other_points()
    {
        var sample = Clouds.Spread(1000);
        var drop = new RandomDrop(new RandomDropOptions { KeepRatio = 0.5f });

        var first = drop.Apply(sample, 42);
        var again = drop.Apply(sample, 42);
        var other = drop.Apply(sample, 43);

        Assert.That(again.Points, Is.EqualTo(first.Points));
        Assert.That(other.PointCount, Is.EqualTo(first.PointCount));
        Assert.That(other.Points, Is.Not.EqualTo(first.Points));
    }

    [Test]
    public void A_tiny_ratio_still_keeps_one_point()
    {
        var result = new RandomDrop(new RandomDropOptions { KeepRatio = 0.001f }).Apply(Clouds.Spread(10), 0);
        Assert.That(result.PointCount, Is.EqualTo(1));
    }

    [TestCase(0f)]
    [TestCase(-0.5f)]
    [TestCase(1.5f)]
    [TestCase(float.NaN)]
    public void A_keep_ratio_outside_zero_to_one_is_refused_naming_the_option(float ratio)
    {
        var error = Assert.Throws<ArgumentException>(() => new RandomDrop(new RandomDropOptions { KeepRatio = ratio }));
        Assert.That(error!.Message, Does.Contain("KeepRatio").And.Contain("(0, 1]"));
    }
}
