using System.Diagnostics;
using System.Text;
using Platform.Abstractions.Components;
using Platform.Plugins.Models.PointNet;
using Platform.TestKit;
using PureHDF;

namespace Platform.Plugins.Models.PointNet.Tests;

/// <summary>
/// The ModelNet40 readers fed mutated files (issue 15): each variant is read or refused with an InvalidDataException
/// naming the file (and line, for text); no other exception, no hang, no non-finite point let through.
/// </summary>
public class ModelNetFuzzTests
{
    private static void Check(string file, byte[] valid, int variants, Action read)
    {
        var watch = Stopwatch.StartNew();
        ReaderFuzz.CheckAt<InvalidDataException>(file, valid, variants, seed: variants, _ => read());
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(45)));
    }

    [Test]
    public void Mutated_resampled_shape_files_are_read_or_refused_by_file_and_line()
    {
        var root = TestPaths.NewTempDirectory("modelnet-fuzz-text");
        File.WriteAllLines(Path.Combine(root, "modelnet10_shape_names.txt"), ["chair"]);
        File.WriteAllLines(Path.Combine(root, "modelnet10_train.txt"), ["chair_0001"]);
        File.WriteAllLines(Path.Combine(root, "modelnet10_test.txt"), ["chair_0001"]);
        Directory.CreateDirectory(Path.Combine(root, "chair"));
        var random = new Random(3);
        var valid = string.Join("\n", Enumerable.Range(0, 24).Select(_ =>
            string.Join(",", Enumerable.Range(0, 6).Select(_ => (random.NextDouble() * 2 - 1).ToString("F6", System.Globalization.CultureInfo.InvariantCulture))))) + "\n";
        var dataset = new ModelNet40Dataset(new ModelNet40Options { Root = root, Points = 16, UseNormals = true, Augment = false }, RunServices.ForTesting());

        Check(Path.Combine(root, "chair", "chair_0001.txt"), Encoding.UTF8.GetBytes(valid), 400, () =>
        {
            var sample = dataset.GetSplit("test").Get(0);
            Assert.That(sample.Points.All(float.IsFinite), Is.True, "a read shape has only finite values");
        });
    }

    [Test]
    public void Mutated_split_lists_are_read_or_refused_by_file_and_line()
    {
        var root = TestPaths.NewTempDirectory("modelnet-fuzz-list");
        File.WriteAllLines(Path.Combine(root, "modelnet10_shape_names.txt"), ["chair", "night_stand"]);
        File.WriteAllLines(Path.Combine(root, "modelnet10_test.txt"), ["chair_0001"]);
        // The list names shapes whose files are read only when a sample is asked for: opening the split reads the list alone.
        Check(Path.Combine(root, "modelnet10_train.txt"), Encoding.UTF8.GetBytes("chair_0001\nnight_stand_0002\nchair_0003\n"), 300,
            () => new ModelNet40Dataset(new ModelNet40Options { Root = root, Augment = false }, RunServices.ForTesting()).GetSplit("train"));
    }

    [Test]
    public void Mutated_hdf5_files_are_read_or_refused_by_name()
    {
        var root = TestPaths.NewTempDirectory("modelnet-fuzz-hdf5");
        File.WriteAllLines(Path.Combine(root, "shape_names.txt"), ["airplane", "bathtub", "bed"]);
        var clouds = new float[3, 32, 3];
        var random = new Random(4);
        for (var s = 0; s < 3; s++)
        for (var p = 0; p < 32; p++)
        for (var c = 0; c < 3; c++)
            clouds[s, p, c] = (float)(random.NextDouble() * 2 - 1);
        var file = Path.Combine(root, "ply_data_train0.h5");
        new H5File { ["data"] = clouds, ["label"] = new byte[,] { { 2 }, { 0 }, { 1 } } }.Write(file);
        new H5File { ["data"] = clouds, ["label"] = new byte[,] { { 2 }, { 0 }, { 1 } } }.Write(Path.Combine(root, "ply_data_test0.h5"));
        var valid = File.ReadAllBytes(file);

        Check(file, valid, 300, () =>
        {
            var train = new ModelNet40Dataset(new ModelNet40Options { Root = root, Points = 16, Augment = false }, RunServices.ForTesting()).GetSplit("train");
            for (var i = 0; i < train.Count; i++)
            {
                var sample = train.Get(i);
                Assert.That(sample.Points.All(float.IsFinite), Is.True, "a read shape has only finite values");
                Assert.That(sample.Label, Is.InRange(0, 2));
            }
        });
    }
}
