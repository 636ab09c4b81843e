using System.Globalization;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.PointNet;
using Platform.TestKit;
using PureHDF;

namespace Platform.Models.PointNet.Tests;

public class ShapesDatasetTests
{
    private static ShapesDataset Create(int dataSeed = 0, bool augment = false) =>
        new(new ShapesOptions { TrainCount = 24, ValCount = 24, TestCount = 12, Points = 256, DataSeed = dataSeed, Augment = augment }, RunServices.ForTesting());

    [Test]
    public void Shapes_are_a_classification_set_of_twelve_balanced_classes_scored_by_accuracy()
    {
        var dataset = Create();
        Assert.That(dataset.Info.Task, Is.EqualTo(ModelTask.Classification));
        Assert.That(dataset.Info.ClassNames, Has.Count.EqualTo(12));
        Assert.That(dataset.DefaultEvaluator, Is.EqualTo("accuracy"));
        var val = dataset.GetSplit("val");
        var labels = Enumerable.Range(0, val.Count).Select(i => val.Get(i).Label).ToArray();
        Assert.That(labels.GroupBy(l => l).Select(g => g.Count()), Is.All.EqualTo(2));
    }

    [Test]
    public void The_same_data_seed_gives_the_same_points_and_another_seed_other_points()
    {
        var a = Create(0).GetSplit("val").Get(5);
        var b = Create(0).GetSplit("val").Get(5);
        var c = Create(1).GetSplit("val").Get(5);
        Assert.That(a.Points, Is.EqualTo(b.Points));
        Assert.That(a.Points, Is.Not.EqualTo(c.Points));
        Assert.That(a.PointCount, Is.EqualTo(256));
    }

    [Test]
    public void Shapes_fit_the_unit_sphere_up_to_the_noise()
    {
        var split = Create().GetSplit("test");
        for (var i = 0; i < split.Count; i++)
        {
            var p = split.Get(i).Points;
            var radius = Enumerable.Range(0, p.Length / 3).Max(k => Math.Sqrt(p[3 * k] * p[3 * k] + p[3 * k + 1] * p[3 * k + 1] + p[3 * k + 2] * p[3 * k + 2]));
            Assert.That(radius, Is.InRange(0.9, 1.1), $"shape {i} ({ProceduralShapes.ClassNames[i % 12]})");
        }
    }

    [Test]
    public void Training_samples_are_augmented_afresh_on_every_read_and_evaluation_samples_never()
    {
        var dataset = Create(augment: true);
        var train = dataset.GetSplit("train");
        Assert.That(train.Get(3).Points, Is.Not.EqualTo(train.Get(3).Points));
        var val = dataset.GetSplit("val");
        Assert.That(val.Get(3).Points, Is.EqualTo(val.Get(3).Points));
    }

    [Test]
    public void An_unknown_split_names_the_splits_that_exist()
    {
        var e = Assert.Throws<KeyNotFoundException>(() => Create().GetSplit("validation"));
        Assert.That(e!.Message, Does.Contain("train, val, test"));
    }
}

public class ModelNet40ReaderTests
{
    [Test]
    public void The_resampled_layout_reads_the_modelnet40_lists_and_per_shape_text_files()
    {
        var root = TestPaths.NewTempDirectory("modelnet-resampled");
        File.WriteAllLines(Path.Combine(root, "modelnet40_shape_names.txt"), ["airplane", "night_stand"]);
        // The public folder also ships the ModelNet10 lists; the default Variant must not pick them.
        File.WriteAllLines(Path.Combine(root, "modelnet10_shape_names.txt"), ["bathtub", "bed"]);
        File.WriteAllLines(Path.Combine(root, "modelnet40_train.txt"), ["airplane_0001", "night_stand_0002"]);
        File.WriteAllLines(Path.Combine(root, "modelnet40_test.txt"), ["night_stand_0007"]);
        void Shape(string cls, string id, float offset)
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            var lines = Enumerable.Range(0, 5).Select(i => string.Join(",", new[] { i + offset, 2 * i, 3 * i, 0, 0, 1 }.Select(v => v.ToString("F6", CultureInfo.InvariantCulture))));
            File.WriteAllLines(Path.Combine(root, cls, id + ".txt"), lines);
        }
        Shape("airplane", "airplane_0001", 0);
        Shape("night_stand", "night_stand_0002", 10);
        Shape("night_stand", "night_stand_0007", 20);

        var dataset = new ModelNet40Dataset(new ModelNet40Options { Root = root, Points = 4, UseNormals = true, Augment = false }, RunServices.ForTesting());
        Assert.That(dataset.Info.ClassNames, Is.EqualTo(new[] { "airplane", "night_stand" }));
        Assert.That(dataset.Info.PointFeatures, Is.EqualTo(6));
        var train = dataset.GetSplit("train");
        Assert.That(train.Count, Is.EqualTo(2));
        var second = train.Get(1);
        Assert.That(second.Label, Is.EqualTo(1));
        Assert.That(second.PointCount, Is.EqualTo(4));
        Assert.That(second.Points.Take(12), Is.EqualTo(new float[] { 10, 0, 0, 0, 0, 1, 11, 2, 3, 0, 0, 1 }));
        var test = dataset.GetSplit("test").Get(0);
        Assert.That((test.Label, test.Points[0]), Is.EqualTo((1, 20f)));
    }

    [Test]
    public void A_bad_number_in_a_resampled_file_names_the_file_and_line()
    {
        var root = TestPaths.NewTempDirectory("modelnet-bad");
        File.WriteAllLines(Path.Combine(root, "modelnet10_shape_names.txt"), ["chair"]);
        File.WriteAllLines(Path.Combine(root, "modelnet10_train.txt"), ["chair_0001"]);
        File.WriteAllLines(Path.Combine(root, "modelnet10_test.txt"), ["chair_0001"]);
        Directory.CreateDirectory(Path.Combine(root, "chair"));
        File.WriteAllLines(Path.Combine(root, "chair", "chair_0001.txt"), ["0,0,0,0,0,1", "1,x,0,0,0,1"]);
        var dataset = new ModelNet40Dataset(new ModelNet40Options { Root = root, Augment = false }, RunServices.ForTesting());
        var e = Assert.Throws<InvalidDataException>(() => dataset.GetSplit("test").Get(0));
        Assert.That(e!.Message, Does.Contain("chair_0001.txt, line 2"));
    }

    [Test]
    public void The_hdf5_layout_reads_data_and_label_across_files()
    {
        var root = TestPaths.NewTempDirectory("modelnet-hdf5");
        File.WriteAllLines(Path.Combine(root, "shape_names.txt"), ["airplane", "bathtub", "bed"]);
        static float[,,] Clouds(int shapes, float offset)
        {
            var data = new float[shapes, 4, 3];
            for (var s = 0; s < shapes; s++)
            for (var p = 0; p < 4; p++)
            for (var c = 0; c < 3; c++)
                data[s, p, c] = offset + 100 * s + 10 * p + c;
            return data;
        }
        new H5File { ["data"] = Clouds(2, 0), ["label"] = new byte[,] { { 2 }, { 0 } } }.Write(Path.Combine(root, "ply_data_train0.h5"));
        new H5File { ["data"] = Clouds(1, 1000), ["label"] = new byte[,] { { 1 } } }.Write(Path.Combine(root, "ply_data_train1.h5"));
        new H5File { ["data"] = Clouds(1, 5000), ["label"] = new byte[,] { { 1 } } }.Write(Path.Combine(root, "ply_data_test0.h5"));

        var dataset = new ModelNet40Dataset(new ModelNet40Options { Root = root, Points = 3, Augment = false }, RunServices.ForTesting());
        var train = dataset.GetSplit("train");
        Assert.That(train.Count, Is.EqualTo(3));
        Assert.That(Enumerable.Range(0, 3).Select(i => train.Get(i).Label), Is.EqualTo(new[] { 2, 0, 1 }));
        var second = train.Get(1);
        Assert.That(second.PointCount, Is.EqualTo(3));
        Assert.That(second.Points, Is.EqualTo(new float[] { 100, 101, 102, 110, 111, 112, 120, 121, 122 }));
        Assert.That(train.Get(2).Points[0], Is.EqualTo(1000f));
        Assert.That(dataset.GetSplit("val").Get(0).Points[0], Is.EqualTo(5000f));
    }

    [Test]
    public void A_missing_root_is_named_in_the_error()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => new ModelNet40Dataset(new ModelNet40Options { Root = "/nonexistent/modelnet" }, RunServices.ForTesting()));
        Assert.That(e!.Message, Does.Contain("/nonexistent/modelnet"));
    }
}

public class AccuracyEvaluatorTests
{
    [Test]
    public void Overall_accuracy_counts_shapes_and_mean_class_accuracy_averages_class_recalls()
    {
        var info = new DatasetInfo("t", ModelTask.Classification, ["a", "b", "c"], 3);
        Sample S(int label) => new() { Id = Guid.NewGuid().ToString(), Points = [], PointFeatures = 3, Label = label };
        Prediction P(int c) => new() { ClassId = c };
        // Class a: 2 of 3 right; class b: 1 of 1; class c absent (does not count).
        var items = new[] { (S(0), P(0)), (S(0), P(1)), (S(0), P(0)), (S(1), P(1)) };
        var folder = TestPaths.NewTempDirectory("accuracy");
        var outcome = new AccuracyEvaluator(new NoOptions()).Evaluate(items, info, folder);
        Assert.That(outcome.Metrics["accuracy"], Is.EqualTo(75).Within(1e-9));
        Assert.That(outcome.Metrics["meanClassAccuracy"], Is.EqualTo(100 * (2.0 / 3 + 1) / 2).Within(1e-9));
        var confusion = File.ReadAllLines(Path.Combine(folder, "confusion.csv"));
        Assert.That(confusion[1], Is.EqualTo("a,2,1,0"));

        // Resampled: counting the wrong shape three times and dropping the last gives 2 of 5 right.
        var resampled = outcome.Resamplable!.Compute([1, 3, 1, 0]);
        Assert.That(resampled["accuracy"], Is.EqualTo(40).Within(1e-9));
        Assert.That(resampled["meanClassAccuracy"], Is.EqualTo(40).Within(1e-9), "class b is absent from this resample");
        Assert.That(outcome.Resamplable.Compute([1, 1, 1, 1])["accuracy"], Is.EqualTo(outcome.Metrics["accuracy"]));
    }
}
