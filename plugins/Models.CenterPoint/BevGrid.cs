namespace Platform.Plugins.Models.CenterPoint;

/// <summary>
/// The bird's-eye-view grids: pillars of <paramref name="PillarSize"/> over the dataset's <paramref name="PointCloudRange"/>
/// (lidar frame, [xmin, ymin, zmin, xmax, ymax, zmax]), and the feature map the head sees, <paramref name="FeatureStride"/>
/// pillar cells per feature cell (the first stage's stride over its upsampling).
/// </summary>
public sealed record BevGrid(float[] PointCloudRange, double PillarSize, int FeatureStride)
{
    /// <summary>Pillar grid columns (x) and rows (y).</summary>
    public int GridX => (int)Math.Round((PointCloudRange[3] - PointCloudRange[0]) / PillarSize);
    public int GridY => (int)Math.Round((PointCloudRange[4] - PointCloudRange[1]) / PillarSize);

    public int FeatureX => GridX / FeatureStride;
    public int FeatureY => GridY / FeatureStride;

    /// <summary>Metres per feature-map cell.</summary>
    public double CellSize => PillarSize * FeatureStride;
}

/// <summary>
/// The names of CenterPoint's conv layers whose outputs are channel groups, as their parameters are named in the module
/// tree: what the network, its channel groups and <see cref="CenterPointOptions.SetChannels"/> agree on.
/// </summary>
internal static class LayerNames
{
    public const string PillarNet = "pfn";
    public const string SharedConv = "head.shared.0";

    /// <summary>Conv <paramref name="k"/> of backbone stage <paramref name="stage"/> (0: the strided one), in its Sequential of conv, norm, ReLU.</summary>
    public static string BlockConv(int stage, int k) => $"backbone.blocks.{stage}.{3 * k}";

    public static string Deblock(int stage) => $"backbone.deblocks.{stage}.0";

    /// <summary>Conv <paramref name="k"/> of the head branch <paramref name="branch"/> before its output conv.</summary>
    public static string HeadConv(string branch, int k) => $"head.heads.{branch}.{3 * k}";

    /// <summary>The module after a conv of these Sequentials: its batch norm.</summary>
    public static string NormAfter(string conv)
    {
        var dot = conv.LastIndexOf('.');
        return $"{conv[..dot]}.{int.Parse(conv[(dot + 1)..], System.Globalization.CultureInfo.InvariantCulture) + 1}";
    }
}
