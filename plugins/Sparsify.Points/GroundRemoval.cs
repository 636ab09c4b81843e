using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Sparsify.Points;

public sealed class GroundRemovalOptions
{
    [Description("A point within this distance (metres) of the ground plane is a ground inlier and is removed.")]
    [Range(1e-4, 10.0)]
    public float DistanceThreshold { get; set; } = 0.2f;

    [Description("RANSAC iterations: candidate planes through three random points.")]
    [Range(1, 100000)]
    public int Iterations { get; set; } = 100;

    [Description("Largest tilt of the ground plane from horizontal, in degrees; steeper candidates (walls, car sides) are rejected. 90 accepts any plane.")]
    [Range(0.0, 90.0)]
    public float MaxSlopeDegrees { get; set; } = 20f;

    [Description("RANSAC scores each candidate plane on this many points drawn from the cloud (0 = every point); the chosen plane's inliers are then found among all points.")]
    [Range(0, 10_000_000)]
    public int ScoringPoints { get; set; } = 8192;

    [Description("Least-squares refit of the best plane to its inliers before removing them (sharper plane than three points give).")]
    public bool Refine { get; set; } = true;
}

/// <summary>A plane n . p + d = 0 with unit normal n pointing up (n_z >= 0).</summary>
public readonly record struct GroundPlane(float NormalX, float NormalY, float NormalZ, float Offset, int Inliers)
{
    public float Distance(float x, float y, float z) => MathF.Abs(NormalX * x + NormalY * y + NormalZ * z + Offset);

    /// <summary>Angle between the plane and the horizontal (between n and +z), in degrees.</summary>
    public double SlopeDegrees => Math.Acos(Math.Clamp(NormalZ, -1f, 1f)) * 180 / Math.PI;

    /// <summary>Angle between this plane's normal and another's, in degrees (orientation ignored).</summary>
    public double AngleToDegrees(float nx, float ny, float nz)
    {
        var cos = Math.Abs(NormalX * nx + NormalY * ny + NormalZ * nz) / Math.Sqrt(nx * nx + ny * ny + nz * nz);
        return Math.Acos(Math.Min(1, cos)) * 180 / Math.PI;
    }
}

/// <summary>
/// Ground removal by RANSAC plane fitting (Fischler and Bolles, 1981): the plane through three random
/// points with the most points within DistanceThreshold wins; optionally refit to its inliers by total
/// least squares (normal = eigenvector of the inliers' covariance with the smallest eigenvalue); its
/// inliers are removed.
/// </summary>
public sealed class GroundRemoval : IPointTransform
{
    private const string Name = "ground-removal";
    private readonly GroundRemovalOptions _options;
    private readonly float _minNormalZ;

    public GroundRemoval(GroundRemovalOptions options)
    {
        OptionsValidation.Check(options, Name);
        _options = options;
        _minNormalZ = MathF.Cos(options.MaxSlopeDegrees * MathF.PI / 180f) - 1e-6f;
    }

    public string Describe() =>
        $"{Name}: RANSAC plane, {_options.Iterations} iterations, inliers within {NumberText.Format(_options.DistanceThreshold)} m removed, " +
        $"slope <= {NumberText.Format(_options.MaxSlopeDegrees)} deg, scored on {(_options.ScoringPoints == 0 ? "all" : _options.ScoringPoints.ToString())} points{(_options.Refine ? ", least-squares refit" : "")}";

    public Sample Apply(Sample sample, int seed)
    {
        PointRows.Validate(sample, Name);
        if (FitGroundPlane(sample.Points, sample.PointFeatures, seed) is not { } plane) return sample;

        var f = sample.PointFeatures;
        var p = sample.Points;
        var n = sample.PointCount;
        var keep = new bool[n];
        var kept = 0;
        var threshold = _options.DistanceThreshold;
        for (var i = 0; i < n; i++)
        {
            keep[i] = plane.Distance(p[i * f], p[i * f + 1], p[i * f + 2]) > threshold;
            if (keep[i]) kept++;
        }
        return kept == n ? sample : sample with { Points = PointRows.Where(p, f, keep, kept) };
    }

    /// <summary>
    /// The ground plane of a cloud (rows of <paramref name="features"/> floats, x, y, z first), or null when
    /// no candidate within the slope limit exists (fewer than three points, all collinear, or all too steep).
    /// </summary>
    public GroundPlane? FitGroundPlane(float[] points, int features, int seed)
    {
        if (features < 3 || points.Length % features != 0)
            throw new ArgumentException($"{Name}: a cloud of {points.Length} floats cannot be read as rows of {features} features (x, y, z first).", nameof(points));
        var n = points.Length / features;
        if (n < 3) return null;
        var rng = Seeding.Random(seed, Name);
        var threshold = _options.DistanceThreshold;

        // Scoring every candidate on a random subset keeps RANSAC linear in the cloud size, not
        // iterations x points; a subset of thousands ranks planes supported by thousands of points alike.
        var scoring = ScoringSubset(points, features, n, rng);

        GroundPlane? best = null;
        for (var it = 0; it < _options.Iterations; it++)
        {
            // Three distinct points.
            var a = rng.Next(n);
            var b = rng.Next(n - 1); if (b >= a) b++;
            var c = rng.Next(n - 2);
            if (c >= Math.Min(a, b)) c++;
            if (c >= Math.Max(a, b)) c++;

            if (PlaneThrough(points, features, a, b, c) is not { } candidate || candidate.NormalZ < _minNormalZ) continue;
            var support = CountInliers(scoring, 3, candidate, threshold);
            if (best is null || support > best.Value.Inliers) best = candidate with { Inliers = support };
        }
        if (best is not { } coarse) return null;
        coarse = coarse with { Inliers = CountInliers(points, features, coarse, threshold) };

        if (_options.Refine && FitToInliers(points, features, coarse, threshold) is { } refined)
        {
            var inliers = CountInliers(points, features, refined, threshold);
            // Keep the refit only if it explains the data at least as well as the sampled plane.
            if (inliers >= coarse.Inliers) return refined with { Inliers = inliers };
        }
        return coarse;
    }

    /// <summary>x, y, z of ScoringPoints points drawn with replacement (or of every point when the cloud is no larger), packed contiguously.</summary>
    private float[] ScoringSubset(float[] points, int features, int n, Random rng)
    {
        var m = _options.ScoringPoints == 0 || n <= _options.ScoringPoints ? n : _options.ScoringPoints;
        var xyz = new float[m * 3];
        for (var j = 0; j < m; j++)
        {
            var i = m == n ? j : rng.Next(n);
            xyz[j * 3] = points[i * features];
            xyz[j * 3 + 1] = points[i * features + 1];
            xyz[j * 3 + 2] = points[i * features + 2];
        }
        return xyz;
    }

    private static GroundPlane? PlaneThrough(float[] p, int f, int a, int b, int c)
    {
        double ax = p[a * f], ay = p[a * f + 1], az = p[a * f + 2];
        double ux = p[b * f] - ax, uy = p[b * f + 1] - ay, uz = p[b * f + 2] - az;
        double vx = p[c * f] - ax, vy = p[c * f + 1] - ay, vz = p[c * f + 2] - az;
        double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
        return UpwardPlane(nx, ny, nz, ax, ay, az);
    }

    /// <summary>A unit normal flipped to point up and the offset through (px, py, pz); null for a degenerate normal.</summary>
    private static GroundPlane? UpwardPlane(double nx, double ny, double nz, double px, double py, double pz)
    {
        var norm = Math.Sqrt(nx * nx + ny * ny + nz * nz);
        if (!(norm > 1e-12)) return null; // collinear sample
        if (nz < 0) norm = -norm;
        nx /= norm; ny /= norm; nz /= norm;
        return new GroundPlane((float)nx, (float)ny, (float)nz, (float)-(nx * px + ny * py + nz * pz), 0);
    }

    private static int CountInliers(float[] p, int f, GroundPlane plane, float threshold)
    {
        // The hot loop of RANSAC: plane coefficients in locals, |n . p + d| <= threshold.
        float nx = plane.NormalX, ny = plane.NormalY, nz = plane.NormalZ, d = plane.Offset;
        var count = 0;
        for (var i = 0; i + 2 < p.Length; i += f)
            if (MathF.Abs(nx * p[i] + ny * p[i + 1] + nz * p[i + 2] + d) <= threshold) count++;
        return count;
    }

    /// <summary>Total least squares over the inliers of <paramref name="plane"/>: centroid and the smallest-variance direction.</summary>
    private static GroundPlane? FitToInliers(float[] p, int f, GroundPlane plane, float threshold)
    {
        double sx = 0, sy = 0, sz = 0;
        var m = 0;
        for (var i = 0; i < p.Length; i += f)
        {
            if (plane.Distance(p[i], p[i + 1], p[i + 2]) > threshold) continue;
            sx += p[i]; sy += p[i + 1]; sz += p[i + 2]; m++;
        }
        if (m < 3) return null;
        double cx = sx / m, cy = sy / m, cz = sz / m;
        var cov = new double[3, 3];
        for (var i = 0; i < p.Length; i += f)
        {
            if (plane.Distance(p[i], p[i + 1], p[i + 2]) > threshold) continue;
            double dx = p[i] - cx, dy = p[i + 1] - cy, dz = p[i + 2] - cz;
            cov[0, 0] += dx * dx; cov[0, 1] += dx * dy; cov[0, 2] += dx * dz;
            cov[1, 1] += dy * dy; cov[1, 2] += dy * dz; cov[2, 2] += dz * dz;
        }
        cov[1, 0] = cov[0, 1]; cov[2, 0] = cov[0, 2]; cov[2, 1] = cov[1, 2];
        var (values, vectors) = SymmetricEigen3(cov);
        var smallest = values[0] <= values[1] ? (values[0] <= values[2] ? 0 : 2) : (values[1] <= values[2] ? 1 : 2);
        return UpwardPlane(vectors[0, smallest], vectors[1, smallest], vectors[2, smallest], cx, cy, cz);
    }

    /// <summary>Eigen-decomposition of a symmetric 3x3 matrix by cyclic Jacobi rotations (Numerical Recipes, sec. 11.1); eigenvectors are columns.</summary>
    internal static (double[] Values, double[,] Vectors) SymmetricEigen3(double[,] matrix)
    {
        var a = (double[,])matrix.Clone();
        var v = new double[3, 3] { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
        for (var sweep = 0; sweep < 50; sweep++)
        {
            var off = a[0, 1] * a[0, 1] + a[0, 2] * a[0, 2] + a[1, 2] * a[1, 2];
            var diag = a[0, 0] * a[0, 0] + a[1, 1] * a[1, 1] + a[2, 2] * a[2, 2];
            if (off <= 1e-30 * Math.Max(diag, 1e-300)) break;
            for (var pi = 0; pi < 2; pi++)
            for (var qi = pi + 1; qi < 3; qi++)
            {
                if (a[pi, qi] == 0) continue;
                // Rotation angle that zeroes a[p,q]: theta = (a_qq - a_pp) / (2 a_pq), t = tan(phi) (NR eq. 11.1.8).
                var theta = (a[qi, qi] - a[pi, pi]) / (2 * a[pi, qi]);
                var t = (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                var cos = 1 / Math.Sqrt(t * t + 1);
                var sin = t * cos;
                for (var k = 0; k < 3; k++)
                {
                    double akp = a[k, pi], akq = a[k, qi];
                    a[k, pi] = cos * akp - sin * akq;
                    a[k, qi] = sin * akp + cos * akq;
                }
                for (var k = 0; k < 3; k++)
                {
                    double apk = a[pi, k], aqk = a[qi, k];
                    a[pi, k] = cos * apk - sin * aqk;
                    a[qi, k] = sin * apk + cos * aqk;
                }
                for (var k = 0; k < 3; k++)
                {
                    double vkp = v[k, pi], vkq = v[k, qi];
                    v[k, pi] = cos * vkp - sin * vkq;
                    v[k, qi] = sin * vkp + cos * vkq;
                }
            }
        }
        return ([a[0, 0], a[1, 1], a[2, 2]], v);
    }
}
