namespace Platform.Abstractions.Data;

/// <summary>
/// One point cloud with its annotation. <see cref="Points"/> is row-major, <see cref="PointFeatures"/>
/// floats per point, the first three being x, y, z. Classification samples carry <see cref="Label"/>;
/// detection samples carry <see cref="Boxes"/> (lidar frame). <see cref="Annotation"/> holds what a
/// dataset's own evaluator needs beyond that (KITTI: the label file's records and the calibration).
/// </summary>
public sealed record Sample
{
    public required string Id { get; init; }
    public required float[] Points { get; init; }
    public required int PointFeatures { get; init; }
    public int Label { get; init; } = -1;
    public IReadOnlyList<Box3D> Boxes { get; init; } = [];
    public object? Annotation { get; init; }

    public int PointCount => PointFeatures == 0 ? 0 : Points.Length / PointFeatures;

    /// <summary>The same sample without its points: what evaluation keeps after the forward pass.</summary>
    public Sample WithoutPoints() => this with { Points = [] };
}
