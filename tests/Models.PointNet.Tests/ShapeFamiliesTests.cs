using Platform.Abstractions.Components;
using Platform.Plugins.Models.PointNet;

namespace Platform.Models.PointNet.Tests;

public class ShapeFamiliesTests
{
    private static ShapesDataset Create(ShapeSet set, int dataSeed = 0, int classes = 0, int count = 72, int points = 256) =>
        new(new ShapesOptions { Set = set, Classes = classes, TrainCount = count, ValCount = count, TestCount = count, Points = points, DataSeed = dataSeed, Augment = false },
            RunServices.ForTesting());

    [Test]
    public void The_basic_set_is_the_default_and_gives_the_points_it_gave_before_sets_existed()
    {
        // Recorded from the generator before the Set option existed (DataSeed 7, 256 points).
        var dataset = new ShapesDataset(new ShapesOptions { TrainCount = 24, ValCount = 24, TestCount = 12, Points = 256, DataSeed = 7 }, RunServices.ForTesting());
        Assert.That(dataset.Info.ClassNames, Is.EqualTo(ProceduralShapes.ClassNames));
        Assert.That(dataset.Provenance.ContainsKey("set"), Is.False, "a basic run's report reads as before");
        Assert.That(dataset.Provenance["classes"], Is.EqualTo("12"));
        foreach (var (split, index, label, first, last, weightedSum) in new[]
                 {
                     ("val", 0, 0, new[] { 0.40829253f, -0.09605377f, 0.37539396f }, 0.64227587f, 7.620822625700384),
                     ("val", 7, 7, new[] { -0.042824753f, 0.47141254f, 0.00041622669f }, 0.5796712f, -15.57883535977453),
                     ("test", 11, 11, new[] { 0.30474195f, 0.236801f, 0.28255364f }, 0.29616082f, -14.71852341806516),
                     ("val", 23, 11, new[] { -0.0760084f, 0.23915054f, 0.30610922f }, 0.15277028f, 13.454220129176974),
                 })
        {
            var sample = dataset.GetSplit(split).Get(index);
            var p = sample.Points;
            Assert.That(sample.Label, Is.EqualTo(label));
            Assert.That(p[..3], Is.EqualTo(first).Within(1e-6), $"{split} {index}");
            Assert.That(p[^1], Is.EqualTo(last).Within(1e-6), $"{split} {index}");
            Assert.That(Enumerable.Range(0, p.Length).Sum(k => p[k] * (double)(k % 7 + 1)), Is.EqualTo(weightedSum).Within(1e-4), $"{split} {index}");
        }
    }

    [Test]
    public void The_families_set_has_36_classes_in_seven_families_and_balanced_splits()
    {
        var dataset = Create(ShapeSet.Families);
        Assert.That(dataset.Info.ClassNames, Has.Count.EqualTo(36));
        Assert.That(ShapeFamilies.Families, Has.Count.EqualTo(7));
        Assert.That(dataset.Info.ClassNames, Is.Unique);
        Assert.That(dataset.Info.ClassNames.Take(6), Is.EqualTo(new[] { "table", "desk", "side_table", "coffee_table", "bench", "stool" }));
        Assert.That(dataset.Provenance["set"], Is.EqualTo("families"));
        Assert.That(dataset.Provenance["classes"], Is.EqualTo("36"));
        foreach (var name in new[] { "train", "val", "test" })
        {
            var split = dataset.GetSplit(name);
            var labels = Enumerable.Range(0, split.Count).Select(i => split.Get(i).Label).ToArray();
            Assert.That(labels.Distinct().Count(), Is.EqualTo(36), name);
            Assert.That(labels.GroupBy(l => l).Select(g => g.Count()), Is.All.EqualTo(2), name);
        }
    }

    [Test]
    public void The_same_data_seed_gives_the_same_family_shapes_and_another_seed_other_ones()
    {
        var a = Create(ShapeSet.Families, 0).GetSplit("val").Get(40);
        var b = Create(ShapeSet.Families, 0).GetSplit("val").Get(40);
        var c = Create(ShapeSet.Families, 1).GetSplit("val").Get(40);
        Assert.That(a.Points, Is.EqualTo(b.Points));
        Assert.That(c.Label, Is.EqualTo(a.Label));
        Assert.That(a.Points, Is.Not.EqualTo(c.Points));
        Assert.That(a.Points, Is.Not.EqualTo(Create(ShapeSet.Basic, 0).GetSplit("val").Get(40).Points));
    }

    [TestCase(512)]
    [TestCase(1024)]
    public void Every_family_class_fits_the_unit_sphere_up_to_the_noise(int points)
    {
        var split = Create(ShapeSet.Families, count: 36, points: points).GetSplit("test");
        for (var i = 0; i < split.Count; i++)
        {
            var sample = split.Get(i);
            var p = sample.Points;
            Assert.That(sample.PointCount, Is.EqualTo(points));
            Assert.That(p, Has.All.Matches<float>(float.IsFinite));
            var radius = Enumerable.Range(0, points).Max(k => Math.Sqrt(p[3 * k] * p[3 * k] + p[3 * k + 1] * p[3 * k + 1] + p[3 * k + 2] * p[3 * k + 2]));
            Assert.That(radius, Is.InRange(0.9, 1.1), $"shape {i} ({ShapeFamilies.ClassNames[sample.Label]})");
        }
    }

    [Test]
    public void Classes_takes_the_first_classes_of_the_set_and_names_the_option_when_the_set_has_fewer()
    {
        Assert.That(Create(ShapeSet.Families, classes: 6).Info.ClassNames, Is.EqualTo(ShapeFamilies.Families[0].Classes));
        Assert.That(Create(ShapeSet.Basic, classes: 4).Info.ClassNames, Is.EqualTo(new[] { "box", "sphere", "cylinder", "cone" }));
        Assert.That(Create(ShapeSet.Basic).Info.ClassNames, Has.Count.EqualTo(12));

        var tooMany = Assert.Throws<ArgumentException>(() => Create(ShapeSet.Families, classes: 37))!;
        Assert.That(tooMany.Message, Does.Contain("Classes = 37").And.Contain("the Families set has 36 classes"));
        var basic = Assert.Throws<ArgumentException>(() => Create(ShapeSet.Basic, classes: 13))!;
        Assert.That(basic.Message, Does.Contain("Classes = 13").And.Contain("the Basic set has 12 classes"));
        Assert.Throws<ArgumentException>(() => Create(ShapeSet.Families, classes: 1));
    }

    [Test]
    public void Optional_parts_come_and_go_within_a_class()
    {
        int Count(string className, string part) => Enumerable.Range(0, 200)
            .Count(seed => ShapeFamilies.Build(Array.IndexOf(ShapeFamilies.ClassNames, className), new Random(seed)).Parts.Contains(part));
        // Drawn with probabilities 0.25, 0.85 and 0.7: present in some shapes of the class, absent from others.
        Assert.That(Count("chair", "arms"), Is.InRange(30, 70));
        Assert.That(Count("bookcase", "back panel"), Is.InRange(150, 190));
        Assert.That(Count("jar", "lid"), Is.InRange(120, 160));
    }

    // One class from each of four families: a silhouette descriptor that separates these is a fair gross-shape test.
    private static readonly string[] AcrossFamilies = ["table", "chair", "mug", "lamp"];

    [Test]
    public void Sorted_bounding_box_extents_misclassify_most_shapes_within_a_family()
    {
        foreach (var family in new[] { "tables", "storage" })
        {
            var accuracy = NearestCentroidAccuracy(ClassesOf(family), BoundingBoxExtents);
            Assert.That(accuracy, Is.LessThan(0.5), family);
        }
    }

    [Test]
    public void A_silhouette_profile_that_tells_families_apart_tells_a_family_apart_far_less_well()
    {
        // The check can fail: it separates classes of different families almost perfectly.
        Assert.That(NearestCentroidAccuracy(AcrossFamilies, SilhouetteProfile), Is.GreaterThan(0.9));
        foreach (var family in new[] { "tables", "storage" })
            Assert.That(NearestCentroidAccuracy(ClassesOf(family), SilhouetteProfile), Is.LessThan(0.7), family);
    }

    private static string[] ClassesOf(string family) => ShapeFamilies.Families.Single(f => f.Family == family).Classes;

    /// <summary>
    /// Accuracy of a nearest-centroid classifier on <paramref name="describe"/>: centroids from 30 shapes per class,
    /// scored on 30 others (256 points, the dataset's default noise and partial views).
    /// </summary>
    private static double NearestCentroidAccuracy(string[] classes, Func<float[], double[]> describe)
    {
        const int perClass = 30;
        double[][] Shapes(string name, int offset) => [.. Enumerable.Range(offset, perClass).Select(seed =>
            describe(ProceduralShapes.Generate(ShapeSet.Families, Array.IndexOf(ShapeFamilies.ClassNames, name), 256, new Random(seed), 0.01, 0.3)))];
        var centroids = classes.Select(c =>
        {
            var shapes = Shapes(c, 0);
            return Enumerable.Range(0, shapes[0].Length).Select(k => shapes.Average(s => s[k])).ToArray();
        }).ToArray();
        var right = 0;
        for (var c = 0; c < classes.Length; c++)
            right += Shapes(classes[c], 1000).Count(s => Enumerable.Range(0, classes.Length)
                .MinBy(j => s.Zip(centroids[j], (x, y) => (x - y) * (x - y)).Sum()) == c);
        return right / (double)(perClass * classes.Length);
    }

    /// <summary>The axis-aligned box's three edge lengths, longest first (the yaw makes their order arbitrary).</summary>
    private static double[] BoundingBoxExtents(float[] p) =>
        [.. Enumerable.Range(0, 3).Select(c => Enumerable.Range(0, p.Length / 3).Select(k => (double)p[3 * k + c]))
            .Select(axis => axis.Max() - axis.Min()).OrderDescending()];

    /// <summary>Yaw-invariant occupancy of 8 x 8 cells of (distance from the up axis, height): the shape's outline turned about z.</summary>
    private static double[] SilhouetteProfile(float[] p)
    {
        var n = p.Length / 3;
        var cells = new double[64];
        for (var k = 0; k < n; k++)
        {
            var radial = Math.Sqrt(p[3 * k] * p[3 * k] + p[3 * k + 1] * p[3 * k + 1]);
            var (ring, level) = (Math.Clamp((int)(radial * 8), 0, 7), Math.Clamp((int)((p[3 * k + 2] + 1) * 4), 0, 7));
            cells[ring * 8 + level] += 1.0 / n;
        }
        return cells;
    }
}
