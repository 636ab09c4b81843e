using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using PureHDF;

namespace Platform.Plugins.Models.PointNet;

public sealed class ModelNet40Options : AugmentationOptions
{
    [Description("The dataset folder: modelnet40_normal_resampled (shape-name and split lists, one text file per shape) or modelnet40_ply_hdf5_2048 (ply_data_*.h5 with 'data' and 'label').")]
    public string Root { get; set; } = "data/modelnet40_normal_resampled";

    [Description("Which layout Root holds: auto (detect), resampled or hdf5.")]
    public string Layout { get; set; } = "auto";

    [Description("Which class list of the resampled layout to use: modelnet40 or modelnet10 (both ship in modelnet40_normal_resampled).")]
    public string Variant { get; set; } = "modelnet40";

    [Description("Points read per shape (the first N of the file: 10000 in resampled, 2048 in hdf5).")]
    [Range(16, 100000)]
    public int Points { get; set; } = 1024;

    [Description("Also read normals (resampled layout only): 6 features per point instead of 3.")]
    public bool UseNormals { get; set; }
}

/// <summary>
/// ModelNet40 (or ModelNet10) in either public layout. Splits "train" and "test"; "val" is the test split
/// (ModelNet40 has no separate validation split and papers report on test). Resampled shapes are read lazily,
/// one file per shape; an HDF5 file is read whole on first use.
/// </summary>
public sealed class ModelNet40Dataset : IDataset
{
    private readonly Dictionary<string, ISampleSource> splits = new(StringComparer.Ordinal);

    public ModelNet40Dataset(ModelNet40Options options, RunServices services)
    {
        var root = Path.GetFullPath(options.Root);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"ModelNet40 option Root: folder '{root}' does not exist.");
        var layout = options.Layout.ToLowerInvariant() switch
        {
            "auto" => Directory.EnumerateFiles(root, "*.h5").Any() ? "hdf5"
                : Directory.EnumerateFiles(root, "*_shape_names.txt").Any() ? "resampled"
                : throw new InvalidDataException($"ModelNet40 option Root: '{root}' holds neither ply_data_*.h5 files nor a *_shape_names.txt list."),
            "resampled" or "hdf5" => options.Layout.ToLowerInvariant(),
            _ => throw new ArgumentException($"ModelNet40 option Layout is '{options.Layout}'; use auto, resampled or hdf5."),
        };
        if (options.UseNormals && layout == "hdf5")
            throw new ArgumentException("ModelNet40 option UseNormals: the hdf5 layout has no normals; use the resampled layout or set UseNormals to false.");
        var features = options.UseNormals ? 6 : 3;
        IReadOnlyList<string> classNames;
        Func<string, ISampleSource> read;
        if (layout == "resampled")
        {
            // The public folder holds both modelnet40_* and modelnet10_* lists: take the one Variant names,
            // or the only list there is.
            var lists = Directory.EnumerateFiles(root, "*_shape_names.txt").Order(StringComparer.Ordinal).ToArray();
            var namesFile = lists.FirstOrDefault(f => Path.GetFileName(f) == options.Variant + "_shape_names.txt")
                ?? (lists.Length == 1 ? lists[0]
                    : throw new FileNotFoundException($"ModelNet40 option Variant: '{root}' has no {options.Variant}_shape_names.txt (it has {string.Join(", ", lists.Select(Path.GetFileName))})."));
            var prefix = Path.GetFileName(namesFile)[..^"_shape_names.txt".Length];
            classNames = ReadLines(namesFile);
            read = split => new ResampledSplit(split, root, prefix, classNames, options.Points, features);
        }
        else
        {
            var namesFile = new[] { "shape_names.txt", "modelnet40_shape_names.txt" }.Select(n => Path.Combine(root, n)).FirstOrDefault(File.Exists)
                ?? throw new FileNotFoundException($"ModelNet40 option Root: '{root}' has HDF5 files but no shape_names.txt.");
            classNames = ReadLines(namesFile);
            read = split => new Hdf5Split(split, root, classNames.Count, options.Points);
        }
        Info = new DatasetInfo("modelnet40", ModelTask.Classification, classNames, features);
        var augmentation = options.ToAugmentation();
        splits["train"] = new AugmentedSampleSource(read("train"), augmentation, services.Seed);
        splits["test"] = read("test");
        splits["val"] = splits["test"];
    }

    public DatasetInfo Info { get; }
    public IReadOnlyList<string> Splits => [.. splits.Keys];
    public string DefaultEvaluator => "accuracy";

    public ISampleSource GetSplit(string split) =>
        splits.TryGetValue(split, out var source) ? source
            : throw new KeyNotFoundException($"Dataset 'modelnet40' has no split '{split}'; it has {string.Join(", ", splits.Keys)}.");

    private static List<string> ReadLines(string path) =>
        File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

    /// <summary>modelnet40_normal_resampled: "&lt;prefix&gt;_&lt;split&gt;.txt" lists ids like "airplane_0001", stored in airplane/airplane_0001.txt as "x,y,z,nx,ny,nz" lines.</summary>
    private sealed class ResampledSplit : ISampleSource
    {
        private readonly string root;
        private readonly (string Id, int Label)[] shapes;
        private readonly int points, features;

        public ResampledSplit(string split, string root, string prefix, IReadOnlyList<string> classNames, int points, int features)
        {
            var list = Path.Combine(root, $"{prefix}_{split}.txt");
            if (!File.Exists(list)) throw new FileNotFoundException($"ModelNet40: split list '{list}' is missing.");
            var labels = classNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
            var lines = File.ReadAllLines(list);
            var result = new List<(string, int)>();
            for (var i = 0; i < lines.Length; i++)
            {
                var id = lines[i].Trim();
                if (id.Length == 0) continue;
                var cut = id.LastIndexOf('_');
                if (cut <= 0 || !labels.TryGetValue(id[..cut], out var label))
                    throw new InvalidDataException($"{list}, line {i + 1}: '{id}' is not <class>_<number> with a class from the shape-name list.");
                result.Add((id, label));
            }
            (this.root, shapes, this.points, this.features, Name) = (root, result.ToArray(), points, features, split);
        }

        public string Name { get; }
        public int Count => shapes.Length;

        public Sample Get(int index)
        {
            var (id, label) = shapes[index];
            var path = Path.Combine(root, id[..id.LastIndexOf('_')], id + ".txt");
            var data = new List<float>(points * features);
            var lineNumber = 0;
            foreach (var line in File.ReadLines(path))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var fields = line.Split(',', StringSplitOptions.TrimEntries);
                if (fields.Length < features)
                    throw new InvalidDataException($"{path}, line {lineNumber}: {fields.Length} values, expected {(features == 6 ? "6 (x,y,z,nx,ny,nz)" : "at least 3 (x,y,z)")}.");
                for (var c = 0; c < features; c++)
                {
                    // NaN and infinities parse; a shape with one is broken data, not a point to learn from.
                    if (!float.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !float.IsFinite(v))
                        throw new InvalidDataException($"{path}, line {lineNumber}: '{fields[c]}' is not a finite number.");
                    data.Add(v);
                }
                if (data.Count == points * features) break;
            }
            if (data.Count == 0) throw new InvalidDataException($"{path}: no points.");
            return new Sample { Id = "modelnet40/" + id, Points = data.ToArray(), PointFeatures = features, Label = label };
        }
    }

    /// <summary>modelnet40_ply_hdf5_2048: ply_data_&lt;split&gt;&lt;k&gt;.h5, each with "data" (shapes, 2048, 3) float and "label" (shapes, 1) integer.</summary>
    private sealed class Hdf5Split : ISampleSource
    {
        private readonly string[] files;
        private readonly int[] offsets;
        private readonly (float[] Data, int[] Labels, int PointsPerShape)?[] loaded;
        private readonly int classes, points;

        public Hdf5Split(string split, string root, int classes, int points)
        {
            files = Directory.EnumerateFiles(root, $"ply_data_{split}*.h5").Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new FileNotFoundException($"ModelNet40: no ply_data_{split}*.h5 files in '{root}'.");
            offsets = new int[files.Length + 1];
            for (var f = 0; f < files.Length; f++)
            {
                var shapes = ReadingHdf5(files[f], () =>
                {
                    using var file = H5File.OpenRead(files[f]);
                    var dims = Dataset(file, files[f], "data").Space.Dimensions;
                    return dims.Length == 0 ? 0 : dims[0];
                });
                if (shapes is < 1 or > MaxShapesPerFile) throw new InvalidDataException($"{files[f]}: 'data' holds {shapes} shapes; expected 1 to {MaxShapesPerFile}.");
                offsets[f + 1] = checked(offsets[f] + (int)shapes);
            }
            loaded = new (float[], int[], int)?[files.Length];
            (this.classes, this.points, Name) = (classes, points, split);
        }

        public string Name { get; }
        public int Count => offsets[^1];

        private static IH5Dataset Dataset(IH5Group file, string path, string name)
        {
            try { return file.Dataset(name); }
            catch (Exception e) { throw new InvalidDataException($"{path}: no '{name}' dataset ({e.Message}).", e); }
        }

        /// <summary>Shapes in one file at most (the public files hold 2048 or fewer), so a damaged header cannot ask for terabytes.</summary>
        private const long MaxShapesPerFile = 1 << 16;

        /// <summary>Points per shape at most (the public files hold 2048).</summary>
        private const long MaxPointsPerShape = 1 << 16;

        /// <summary>
        /// Runs a read of <paramref name="path"/> with PureHDF, whose errors on a damaged file are of many types (found by
        /// the HDF5 fuzz test: format, index, end-of-stream...): any of them is this file's InvalidDataException.
        /// </summary>
        private static T ReadingHdf5<T>(string path, Func<T> read)
        {
            try
            {
                return read();
            }
            catch (Exception e) when (e is not InvalidDataException and not OutOfMemoryException)
            {
                throw new InvalidDataException($"{path}: not a readable ModelNet40 HDF5 file ({e.GetType().Name}: {e.Message})", e);
            }
        }

        private (float[] Data, int[] Labels, int PointsPerShape) Load(int f)
        {
            lock (loaded)
            {
                if (loaded[f] is { } done) return done;
                var result = ReadingHdf5(files[f], () => Read(files[f]));
                loaded[f] = result;
                return result;
            }
        }

        private (float[] Data, int[] Labels, int PointsPerShape) Read(string path)
        {
            using var file = H5File.OpenRead(path);
            var data = Dataset(file, path, "data");
            var dims = data.Space.Dimensions;
            if (dims.Length != 3 || dims[2] != 3) throw new InvalidDataException($"{path}: 'data' has shape [{string.Join(",", dims)}], expected [shapes, points, 3].");
            if (dims[0] is < 1 or > MaxShapesPerFile || dims[1] is < 1 or > MaxPointsPerShape)
                throw new InvalidDataException($"{path}: 'data' has shape [{string.Join(",", dims)}]; expected 1 to {MaxShapesPerFile} shapes of 1 to {MaxPointsPerShape} points.");
            var values = data.Type.Class == H5DataTypeClass.FloatingPoint && data.Type.Size == 8
                ? data.Read<double[]>().Select(v => (float)v).ToArray()
                : data.Read<float[]>();
            var label = Dataset(file, path, "label");
            var labels = label.Type.Size switch
            {
                1 => label.Read<byte[]>().Select(v => (int)v).ToArray(),
                2 => label.Read<short[]>().Select(v => (int)v).ToArray(),
                4 => label.Read<int[]>(),
                8 => label.Read<long[]>().Select(v => (int)v).ToArray(),
                _ => throw new InvalidDataException($"{path}: 'label' has {label.Type.Size}-byte elements, expected an integer type."),
            };
            if (labels.Length != (int)dims[0]) throw new InvalidDataException($"{path}: {labels.Length} labels for {dims[0]} shapes.");
            var bad = Array.FindIndex(labels, l => l < 0 || l >= classes);
            if (bad >= 0) throw new InvalidDataException($"{path}: shape {bad} has label {labels[bad]}, shape_names.txt lists {classes} classes.");
            if ((ulong)values.Length != dims[0] * dims[1] * 3) throw new InvalidDataException($"{path}: 'data' holds {values.Length} values for shape [{string.Join(",", dims)}].");
            var nonFinite = Array.FindIndex(values, v => !float.IsFinite(v));
            if (nonFinite >= 0) throw new InvalidDataException($"{path}: shape {(ulong)nonFinite / (dims[1] * 3)} has a non-finite coordinate ({values[nonFinite]}).");
            return (values, labels, (int)dims[1]);
        }

        public Sample Get(int index)
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"Split '{Name}' has {Count} shapes.");
            var f = Array.FindLastIndex(offsets, o => o <= index);
            var (data, labels, perShape) = Load(f);
            var local = index - offsets[f];
            var n = Math.Min(points, perShape);
            var cloud = data.AsSpan(local * perShape * 3, n * 3).ToArray();
            return new Sample { Id = $"modelnet40/{Path.GetFileNameWithoutExtension(files[f])}/{local:D5}", Points = cloud, PointFeatures = 3, Label = labels[local] };
        }
    }
}
