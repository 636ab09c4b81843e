using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;

namespace Platform.Plugins.Models.PointNet;

/// <summary>Which classes the shapes dataset draws from.</summary>
public enum ShapeSet
{
    /// <summary>12 classes told apart by gross shape (<see cref="ProceduralShapes.ClassNames"/>).</summary>
    Basic,

    /// <summary>36 classes in seven families of look-alikes told apart by parts and proportions (<see cref="ShapeFamilies"/>).</summary>
    Families,
}

public sealed class ShapesOptions : AugmentationOptions, IValidatableObject
{
    [Description("Which classes: Basic (12 separable by gross shape: box, sphere, cylinder, cone, torus, pyramid, capsule, chair, table, lamp, mug, stool) " +
                 "or Families (36 look-alikes in families that differ by parts and proportions: tables: table, desk, side_table, coffee_table, bench, stool; " +
                 "seating: chair, armchair, sofa, bar_chair, rocking_chair; vessels: mug, cup, pitcher, vase, bottle, jar, bowl; " +
                 "cones: cone, pyramid, traffic_cone, lamp, tree; storage: bed, shelf, bookcase, cabinet, dresser, wardrobe; " +
                 "bars: dumbbell, barbell, rolling_pin, capsule; rings: ring, tyre, wheel). Families parts come and go within a class and each shape is stretched per axis.")]
    public ShapeSet Set { get; set; } = ShapeSet.Basic;

    [Description("Number of shape classes, the first ones of the Set in the order its description lists them; 0 takes them all (12 for Basic, 36 for Families).")]
    [Range(0, int.MaxValue)]
    public int Classes { get; set; }

    /// <summary>The classes used: <see cref="Classes"/>, or every class of the set when it is 0.</summary>
    public int ClassCount => Classes == 0 ? ProceduralShapes.ClassNamesOf(Set).Count : Classes;

    [Description("Shapes in the training split (classes balanced).")]
    [Range(1, 1000000)]
    public int TrainCount { get; set; } = 2400;

    [Description("Shapes in the validation split.")]
    [Range(1, 1000000)]
    public int ValCount { get; set; } = 600;

    [Description("Shapes in the test split.")]
    [Range(1, 1000000)]
    public int TestCount { get; set; } = 600;

    [Description("Points sampled on each shape's surface.")]
    [Range(16, 100000)]
    public int Points { get; set; } = 1024;

    [Description("Standard deviation of the Gaussian noise added to every point (the shape fits the unit sphere).")]
    [Range(0.0, 1.0)]
    public double Noise { get; set; } = 0.01;

    [Description("Probability that a shape is a partial view: only the side facing a random viewpoint is kept.")]
    [Range(0.0, 1.0)]
    public double PartialViewProbability { get; set; } = 0.3;

    [Description("Seed of the shapes themselves (independent of the run's seed, so every run sees the same data).")]
    public int DataSeed { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var available = ProceduralShapes.ClassNamesOf(Set).Count;
        if (Classes == 1 || Classes > available)
            yield return new ValidationResult($"must be 0 (all) or 2 to {available}: the {Set} set has {available} classes.", [nameof(Classes)]);
    }
}

/// <summary>
/// The embedded default dataset: procedural solids and composites (see <see cref="ProceduralShapes"/>, and
/// <see cref="ShapeFamilies"/> for the families set). Shapes are
/// generated on first read and cached; shape i of a split depends only on (DataSeed, split, i).
/// </summary>
public sealed class ShapesDataset : IDataset
{
    private readonly ShapesOptions options;
    private readonly Dictionary<string, ISampleSource> splits;

    public ShapesDataset(ShapesOptions options, RunServices services)
    {
        if (options.ScaleMin > options.ScaleMax)
            throw new ArgumentException($"Shapes option ScaleMin ({options.ScaleMin}) is larger than ScaleMax ({options.ScaleMax}).");
        OptionsValidation.Check(options, "dataset 'shapes'");
        this.options = options;
        Info = new DatasetInfo("shapes", ModelTask.Classification, [.. ProceduralShapes.ClassNamesOf(options.Set).Take(options.ClassCount)], 3);
        var augmentation = options.ToAugmentation();
        splits = new Dictionary<string, ISampleSource>(StringComparer.Ordinal)
        {
            ["train"] = new AugmentedSampleSource(new GeneratedSplit("train", options.TrainCount, this), augmentation, services.Seed),
            ["val"] = new GeneratedSplit("val", options.ValCount, this),
            ["test"] = new GeneratedSplit("test", options.TestCount, this),
        };
    }

    public DatasetInfo Info { get; }
    public IReadOnlyList<string> Splits => [.. splits.Keys];
    public string DefaultEvaluator => "accuracy";

    public IReadOnlyDictionary<string, string> Provenance
    {
        get
        {
            var provenance = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["dataSeed"] = options.DataSeed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["classes"] = options.ClassCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["points"] = options.Points.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["frames/train"] = options.TrainCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["frames/val"] = options.ValCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["frames/test"] = options.TestCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            // Named only off the default, so that reports and bench headers of basic runs read as they did before sets existed.
            if (options.Set != ShapeSet.Basic) provenance["set"] = options.Set.ToString().ToLowerInvariant();
            return provenance;
        }
    }

    public ISampleSource GetSplit(string split) =>
        splits.TryGetValue(split, out var source) ? source
            : throw new KeyNotFoundException($"Dataset 'shapes' has no split '{split}'; it has {string.Join(", ", splits.Keys)}.");

    private sealed class GeneratedSplit(string name, int count, ShapesDataset owner) : ISampleSource
    {
        private readonly Sample?[] cache = new Sample?[count];

        public string Name => name;
        public int Count => count;

        public Sample Get(int index)
        {
            if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"Split '{name}' has {count} shapes.");
            return cache[index] ??= Generate(index);
        }

        private Sample Generate(int index)
        {
            var o = owner.options;
            var label = index % o.ClassCount;   // balanced classes, interleaved
            var random = new Random(StableHash.Combine(o.DataSeed, StableHash.Of(name), index));
            var points = ProceduralShapes.Generate(o.Set, label, o.Points, random, o.Noise, o.PartialViewProbability);
            return new Sample { Id = $"shapes/{name}/{index:D6}", Points = points, PointFeatures = 3, Label = label };
        }
    }
}
