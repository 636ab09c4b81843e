using System.Numerics;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// Parametric solids and composites sampled on their surfaces (area-weighted, so a point is equally likely
/// anywhere on the surface), with random proportions, a random rotation about the up axis (z), noise and
/// partial views. Each shape is normalised to the unit sphere like ModelNet40's resampled clouds.
/// </summary>
public static class ProceduralShapes
{
    public static readonly string[] ClassNames =
        ["box", "sphere", "cylinder", "cone", "torus", "pyramid", "capsule", "chair", "table", "lamp", "mug", "stool"];

    internal static float Between(Random r, double low, double high) => (float)(low + r.NextDouble() * (high - low));

    public static float Gaussian(Random r) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

    private static ShapeSurface Build(int classId, Random r)
    {
        var s = new ShapeSurface();
        var o = Vector3.Zero;
        switch (ClassNames[classId])
        {
            case "box":
                s.Box(o, new Vector3(Between(r, 0.4, 1.6), Between(r, 0.4, 1.6), Between(r, 0.4, 1.6)));
                break;
            case "sphere":
                var radius = Between(r, 0.5, 1);
                s.Ellipsoid(o, new Vector3(radius, radius * Between(r, 0.85, 1.15), radius * Between(r, 0.85, 1.15)));
                break;
            case "cylinder":
                var cr = Between(r, 0.2, 0.8);
                s.Cylinder(o, cr, Between(r, 0.6, 2.0));
                break;
            case "cone":
                s.Cone(o, Between(r, 0.3, 0.9), 0, Between(r, 0.6, 1.8), bottomCap: true);
                break;
            case "torus":
                var major = Between(r, 0.5, 1);
                s.Torus(o, major, major * Between(r, 0.15, 0.45));
                break;
            case "pyramid":
                var half = Between(r, 0.3, 0.9);
                var apex = new Vector3(0, 0, Between(r, 0.5, 1.6));
                Vector3[] corners = [new(-half, -half, 0), new(half, -half, 0), new(half, half, 0), new(-half, half, 0)];
                for (var i = 0; i < 4; i++) s.Triangle(corners[i], corners[(i + 1) % 4], apex);
                s.Triangle(corners[0], corners[1], corners[2]);
                s.Triangle(corners[0], corners[2], corners[3]);
                break;
            case "capsule":
                var kr = Between(r, 0.2, 0.5);
                var kh = Between(r, 0.4, 1.6);
                s.Cylinder(o, kr, kh, bottomCap: false, topCap: false);
                s.Ellipsoid(new Vector3(0, 0, kh), new Vector3(kr), upperHalfOnly: true);
                s.Ellipsoid(o, new Vector3(kr), lowerHalfOnly: true);
                break;
            case "chair":
            {
                var (w, d, legH) = (Between(r, 0.6, 1.0), Between(r, 0.6, 1.0), Between(r, 0.5, 0.9));
                var leg = Between(r, 0.05, 0.1);
                LegsAndTop(s, w, d, legH, Between(r, 0.06, 0.12), leg);
                var backH = Between(r, 0.5, 1.1);
                s.Box(new Vector3(-w / 2 + leg / 2, 0, legH + backH / 2), new Vector3(leg, d, backH));
                break;
            }
            case "table":
            {
                var (w, d, legH) = (Between(r, 1.0, 2.0), Between(r, 0.6, 1.2), Between(r, 0.6, 1.0));
                LegsAndTop(s, w, d, legH, Between(r, 0.04, 0.1), Between(r, 0.05, 0.12));
                break;
            }
            case "lamp":
            {
                var poleH = Between(r, 0.8, 1.6);
                s.Cylinder(o, Between(r, 0.25, 0.45), Between(r, 0.03, 0.08));
                s.Cylinder(o, Between(r, 0.02, 0.05), poleH, bottomCap: false, topCap: false);
                var shadeH = Between(r, 0.25, 0.5);
                s.Cone(new Vector3(0, 0, poleH - shadeH * 0.3f), Between(r, 0.3, 0.55), Between(r, 0.1, 0.25), shadeH, bottomCap: false);
                break;
            }
            case "mug":
            {
                var (mr, mh) = (Between(r, 0.3, 0.55), Between(r, 0.6, 1.2));
                s.Cylinder(o, mr, mh, bottomCap: true, topCap: false);
                var handle = mh * Between(r, 0.25, 0.35);
                s.Torus(new Vector3(mr, 0, mh / 2), handle, Between(r, 0.03, 0.07), vertical: true, arc: Math.PI * 1.2);
                break;
            }
            case "stool":
            {
                var (sr, legH) = (Between(r, 0.3, 0.55), Between(r, 0.6, 1.2));
                s.Cylinder(new Vector3(0, 0, legH), sr, Between(r, 0.05, 0.12));
                var legs = r.Next(3, 5);
                var leg = Between(r, 0.03, 0.07);
                for (var i = 0; i < legs; i++)
                {
                    var a = 2 * Math.PI * i / legs;
                    var p = new Vector3((float)Math.Cos(a), (float)Math.Sin(a), 0) * (sr * 0.75f);
                    s.Cylinder(p, leg, legH, bottomCap: false, topCap: false);
                }
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(classId), classId, null);
        }
        return s;
    }

    private static void LegsAndTop(ShapeSurface s, float width, float depth, float legHeight, float topThickness, float leg)
    {
        s.Box(new Vector3(0, 0, legHeight + topThickness / 2), new Vector3(width, depth, topThickness));
        foreach (var x in new[] { -1f, 1f })
        foreach (var y in new[] { -1f, 1f })
            s.Box(new Vector3(x * (width / 2 - leg / 2), y * (depth / 2 - leg / 2), legHeight / 2), new Vector3(leg, leg, legHeight));
    }

    /// <summary>The class names of <paramref name="set"/>, in label order.</summary>
    public static IReadOnlyList<string> ClassNamesOf(ShapeSet set) => set switch
    {
        ShapeSet.Basic => ClassNames,
        ShapeSet.Families => ShapeFamilies.ClassNames,
        _ => throw new ArgumentOutOfRangeException(nameof(set), set, null),
    };

    /// <summary>One shape of class <paramref name="classId"/> of <paramref name="set"/>, as <see cref="Generate"/> describes.</summary>
    public static float[] Generate(ShapeSet set, int classId, int points, Random random, double noise, double partialViewProbability) => set switch
    {
        ShapeSet.Basic => Generate(classId, points, random, noise, partialViewProbability),
        ShapeSet.Families => ShapeFamilies.Generate(classId, points, random, noise, partialViewProbability),
        _ => throw new ArgumentOutOfRangeException(nameof(set), set, null),
    };

    /// <summary>
    /// One shape of class <paramref name="classId"/>: <paramref name="points"/> xyz rows (row-major), centred and scaled
    /// to the unit sphere, rotated about z, with Gaussian noise of std <paramref name="noise"/>. With probability
    /// <paramref name="partialViewProbability"/> the points facing away from a random viewpoint are dropped first
    /// (a single-sided scan), and the visible part is resampled to the full count.
    /// </summary>
    public static float[] Generate(int classId, int points, Random random, double noise, double partialViewProbability) =>
        Scan(Build(classId, random), points, random, noise, partialViewProbability, Vector3.One);

    /// <summary>
    /// The points of <see cref="Generate"/> drawn from <paramref name="surface"/>, each first multiplied by
    /// <paramref name="stretch"/> (per-axis scaling of the whole shape; one, exactly, for the basic set).
    /// </summary>
    internal static float[] Scan(ShapeSurface surface, int points, Random random, double noise, double partialViewProbability, Vector3 stretch)
    {
        var partial = random.NextDouble() < partialViewProbability;
        var candidates = partial ? points * 3 : points;
        var cloud = new Vector3[candidates];
        for (var i = 0; i < candidates; i++) cloud[i] = surface.Sample(random) * stretch;
        if (partial)
        {
            // Keep the side of the shape nearer a random horizontal viewpoint: points whose offset from the
            // centroid points towards the viewer.
            var centroid = cloud.Aggregate(Vector3.Zero, (a, b) => a + b) / candidates;
            var angle = random.NextDouble() * 2 * Math.PI;
            var view = new Vector3((float)Math.Cos(angle), (float)Math.Sin(angle), Between(random, -0.3, 0.6));
            var visible = cloud.Where(p => Vector3.Dot(p - centroid, view) > -0.1f).ToArray();
            if (visible.Length >= points / 4) cloud = Enumerable.Range(0, points).Select(i => visible[i < visible.Length ? i : random.Next(visible.Length)]).ToArray();
            else cloud = cloud[..points];
        }
        var yaw = random.NextDouble() * 2 * Math.PI;
        var rotation = Matrix4x4.CreateRotationZ((float)yaw);
        var mean = cloud.Aggregate(Vector3.Zero, (a, b) => a + b) / cloud.Length;
        var scale = cloud.Max(p => (p - mean).Length());
        if (scale < 1e-6f) scale = 1;
        var result = new float[points * 3];
        for (var i = 0; i < points; i++)
        {
            var p = Vector3.Transform((cloud[i] - mean) / scale, rotation);
            p += new Vector3(Gaussian(random), Gaussian(random), Gaussian(random)) * (float)noise;
            result[3 * i] = p.X;
            result[3 * i + 1] = p.Y;
            result[3 * i + 2] = p.Z;
        }
        return result;
    }
}
