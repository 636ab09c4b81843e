using System.Globalization;
using System.Reflection;
using Platform.Plugins.Pruning.HessianDP;

namespace Platform.Bench.HessianDP;

/// <summary>The bench's settings; each is overridable on the command line as Key=Value.</summary>
internal sealed class BenchSettings
{
    public string Subject { get; set; } = "pointnet";
    public string Checkpoint { get; set; } = "";
    public string Output { get; set; } = "";
    public string Reductions { get; set; } = "2,4,8";
    public string Methods { get; set; } = "hessian-dp,hessian-dp-mag,hessian-dp-fisher,uniform-magnitude,global-magnitude,lamp";
    public int Seed { get; set; }
    public int Threads { get; set; } = 2;
    public int BatchSize { get; set; } = 16;
    public string EvalSplit { get; set; } = "val";
    public int EvalSamples { get; set; } = 240;
    public string CalibrationSplit { get; set; } = "train";
    // The plugin's defaults unless overridden: the table shows what a pipeline gets out of the box.
    public int CalibrationSamples { get; set; } = new HessianDPOptions().CalibrationSamples;
    public int CalibrationBatchSize { get; set; } = new HessianDPOptions().CalibrationBatchSize;
    public int Projections { get; set; } = new HessianDPOptions().Projections;
    public WithinLayerRanking Ranking { get; set; } = new HessianDPOptions().Ranking;
    public DistortionEstimator Estimator { get; set; } = new HessianDPOptions().Estimator;

    // Dense model trained here when no Checkpoint is given.
    public int Epochs { get; set; } = 8;
    public int TrainCount { get; set; } = 960;
    public double LearningRate { get; set; } = 2e-3;

    // pointnet subject
    public double Width { get; set; } = 0.25;
    public int Points { get; set; } = 256;
    public int Classes { get; set; } = 8;

    // centerpoint subject
    public string KittiRoot { get; set; } = "data/kitti-synth";
    public string Preset { get; set; } = "kitti-small";

    /// <summary>When &gt; 0 and KittiRoot is missing, the kitti dataset generates this many synthetic frames there.</summary>
    public int SyntheticFrames { get; set; }

    public IReadOnlyList<double> ReductionList => Reductions.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();

    public IReadOnlyList<string> MethodList => Methods.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static BenchSettings Parse(string[] args)
    {
        var settings = new BenchSettings();
        foreach (var arg in args)
        {
            var parts = arg.TrimStart('-').Split('=', 2);
            var property = typeof(BenchSettings).GetProperty(parts[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)
                           ?? throw new ArgumentException($"Unknown setting '{parts[0]}' in '{arg}'; settings: {string.Join(", ", typeof(BenchSettings).GetProperties().Where(p => p.CanWrite).Select(p => p.Name))}.");
            if (parts.Length != 2) throw new ArgumentException($"Setting '{arg}' needs a value: {parts[0]}=VALUE.");
            try
            {
                object value = property.PropertyType.IsEnum
                    ? Enum.Parse(property.PropertyType, parts[1], ignoreCase: true)
                    : Convert.ChangeType(parts[1], property.PropertyType, CultureInfo.InvariantCulture);
                property.SetValue(settings, value);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidCastException)
            {
                throw new ArgumentException($"Setting {parts[0]}: '{parts[1]}' is not a valid {property.PropertyType.Name}.", e);
            }
        }
        return settings;
    }

    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>One table row: a method at a target reduction, with what was measured.</summary>
internal sealed record BenchRow(
    string Method, double Target, double Flops, double Reduction, double PrunableReduction, long Params, long NonzeroParams,
    IReadOnlyDictionary<string, double> Metrics, double Distortion,
    double CalibrationSeconds, double CurveSeconds, double AllocationSeconds, double HonestySeconds, double TotalSeconds, double HonestyCorrelation);
