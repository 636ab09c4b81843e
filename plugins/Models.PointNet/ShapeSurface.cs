using System.Numerics;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// A surface made of patches, each with its area and a uniform sampler: a point is equally likely anywhere on the
/// surface. z is up; the primitives of the basic set stand upright, tubes and plates take any axis.
/// </summary>
internal sealed class ShapeSurface
{
    private readonly List<(double Area, Func<Random, Vector3> Sample)> patches = [];
    private double? total;

    public void Add(double area, Func<Random, Vector3> sample)
    {
        patches.Add((area, sample));
        total = null;
    }

    public Vector3 Sample(Random random)
    {
        // Summed once per shape in patch order: the same total, so the same draws, as summing on every call.
        total ??= patches.Sum(p => p.Area);
        var u = random.NextDouble() * total.Value;
        foreach (var (area, sample) in patches)
        {
            if (u < area) return sample(random);
            u -= area;
        }
        return patches[^1].Sample(random);
    }

    public void Box(Vector3 centre, Vector3 size)
    {
        var (x, y, z) = (size.X, size.Y, size.Z);
        foreach (var sign in new[] { -1f, 1f })
        {
            Add(y * z, r => centre + new Vector3(sign * x / 2, U(r, y), U(r, z)));
            Add(x * z, r => centre + new Vector3(U(r, x), sign * y / 2, U(r, z)));
            Add(x * y, r => centre + new Vector3(U(r, x), U(r, y), sign * z / 2));
        }
    }

    /// <summary>An axis-aligned box given by two opposite corners (furniture is easier to write by its faces).</summary>
    public void BoxBetween(Vector3 low, Vector3 high) => Box((low + high) / 2, high - low);

    /// <summary>An upright cylinder standing on <paramref name="bottom"/>; caps optional (a mug has no top).</summary>
    public void Cylinder(Vector3 bottom, float radius, float height, bool bottomCap = true, bool topCap = true)
    {
        Add(2 * Math.PI * radius * height, r =>
        {
            var a = r.NextDouble() * 2 * Math.PI;
            return bottom + new Vector3(radius * (float)Math.Cos(a), radius * (float)Math.Sin(a), (float)r.NextDouble() * height);
        });
        if (bottomCap) Disc(bottom, radius);
        if (topCap) Disc(bottom + new Vector3(0, 0, height), radius);
    }

    public void Disc(Vector3 centre, float radius) => Add(Math.PI * radius * radius, r =>
    {
        var a = r.NextDouble() * 2 * Math.PI;
        var d = radius * (float)Math.Sqrt(r.NextDouble());
        return centre + new Vector3(d * (float)Math.Cos(a), d * (float)Math.Sin(a), 0);
    });

    /// <summary>A horizontal ring between two radii (a tyre's side wall, a saucer's flat).</summary>
    public void Annulus(Vector3 centre, float inner, float outer) => Add(Math.PI * (outer * outer - inner * inner), r =>
    {
        var a = r.NextDouble() * 2 * Math.PI;
        var d = (float)Math.Sqrt(inner * inner + r.NextDouble() * (outer * outer - inner * inner));
        return centre + new Vector3(d * (float)Math.Cos(a), d * (float)Math.Sin(a), 0);
    });

    /// <summary>An ellipsoid (a sphere when the radii are equal); uniform directions, near-uniform area on mild ellipsoids.</summary>
    public void Ellipsoid(Vector3 centre, Vector3 radii, bool upperHalfOnly = false, bool lowerHalfOnly = false)
    {
        var area = 4 * Math.PI * Math.Pow((Math.Pow(radii.X * radii.Y, 1.6) + Math.Pow(radii.X * radii.Z, 1.6) + Math.Pow(radii.Y * radii.Z, 1.6)) / 3, 1 / 1.6);
        if (upperHalfOnly || lowerHalfOnly) area /= 2;
        Add(area, r =>
        {
            var d = Direction(r);
            if (upperHalfOnly) d.Z = Math.Abs(d.Z);
            if (lowerHalfOnly) d.Z = -Math.Abs(d.Z);
            return centre + d * radii;
        });
    }

    public void Sphere(Vector3 centre, float radius) => Ellipsoid(centre, new Vector3(radius));

    /// <summary>The half of a sphere on the side <paramref name="axis"/> points to (a capsule's end lying on its side).</summary>
    public void Dome(Vector3 centre, float radius, Vector3 axis) => Add(2 * Math.PI * radius * radius, r =>
    {
        var d = Direction(r);
        if (Vector3.Dot(d, axis) < 0) d = Vector3.Reflect(d, Vector3.Normalize(axis));
        return centre + d * radius;
    });

    /// <summary>An upright cone (apex up) or a lamp shade (a truncated cone without caps).</summary>
    public void Cone(Vector3 bottom, float bottomRadius, float topRadius, float height, bool bottomCap)
    {
        var slant = Math.Sqrt(height * height + (bottomRadius - topRadius) * (bottomRadius - topRadius));
        Add(Math.PI * (bottomRadius + topRadius) * slant, r =>
        {
            // Radius along the side is linear in height; area grows with radius, so invert the CDF of r(t).
            var t = SampleLinearDensity(r, bottomRadius, topRadius);
            var radius = bottomRadius + (topRadius - bottomRadius) * t;
            var a = r.NextDouble() * 2 * Math.PI;
            return bottom + new Vector3(radius * (float)Math.Cos(a), radius * (float)Math.Sin(a), t * height);
        });
        if (bottomCap) Disc(bottom, bottomRadius);
    }

    /// <summary>
    /// The surface of revolution about the upright axis through <paramref name="bottom"/> of a profile of (radius,
    /// height) points with heights rising: a vessel's wall. Open at both ends; a flat step becomes an annulus.
    /// </summary>
    public void Revolve(Vector3 bottom, params (float Radius, float Height)[] profile)
    {
        for (var i = 1; i < profile.Length; i++)
        {
            var (low, high) = (profile[i - 1], profile[i]);
            if (high.Height - low.Height > 1e-6f)
                Cone(bottom + new Vector3(0, 0, low.Height), low.Radius, high.Radius, high.Height - low.Height, bottomCap: false);
            else if (Math.Abs(high.Radius - low.Radius) > 1e-6f)
                Annulus(bottom + new Vector3(0, 0, low.Height), Math.Min(low.Radius, high.Radius), Math.Max(low.Radius, high.Radius));
        }
    }

    public void Torus(Vector3 centre, float major, float minor, bool vertical = false, double arc = 2 * Math.PI)
    {
        Add(arc * major * 2 * Math.PI * minor, r =>
        {
            while (true)
            {
                // Rejection on (major + minor cos phi) makes the area density uniform.
                var theta = r.NextDouble() * arc - arc / 2;
                var phi = r.NextDouble() * 2 * Math.PI;
                var ring = major + minor * Math.Cos(phi);
                if (r.NextDouble() * (major + minor) > ring) continue;
                var p = new Vector3((float)(ring * Math.Cos(theta)), (float)(ring * Math.Sin(theta)), (float)(minor * Math.Sin(phi)));
                return centre + (vertical ? new Vector3(p.X, p.Z, p.Y) : p);
            }
        });
    }

    /// <summary>A cylinder from <paramref name="a"/> to <paramref name="b"/> along any axis (a splayed leg, a bar, a spoke).</summary>
    public void Tube(Vector3 a, Vector3 b, float radius, bool caps = false)
    {
        var axis = b - a;
        var (u, v) = Perpendiculars(axis);
        Add(2 * Math.PI * radius * axis.Length(), r =>
        {
            var angle = r.NextDouble() * 2 * Math.PI;
            return a + r.NextSingle() * axis + radius * ((float)Math.Cos(angle) * u + (float)Math.Sin(angle) * v);
        });
        if (!caps) return;
        Plate(a, u, v, radius);
        Plate(b, u, v, radius);
    }

    /// <summary>Tubes through consecutive points: a bent part (a handle, a rocker) as a polyline.</summary>
    public void Bend(IReadOnlyList<Vector3> path, float radius)
    {
        for (var i = 1; i < path.Count; i++) Tube(path[i - 1], path[i], radius);
    }

    public void Triangle(Vector3 a, Vector3 b, Vector3 c) => Add(Vector3.Cross(b - a, c - a).Length() / 2, r =>
    {
        var (u, v) = (r.NextSingle(), r.NextSingle());
        if (u + v > 1) (u, v) = (1 - u, 1 - v);
        return a + u * (b - a) + v * (c - a);
    });

    /// <summary>A planar quadrilateral a-b-c-d (in order round its edge), as two triangles.</summary>
    public void Quad(Vector3 a, Vector3 b, Vector3 c, Vector3 d)
    {
        Triangle(a, b, c);
        Triangle(a, c, d);
    }

    /// <summary>A disc in the plane spanned by the unit vectors <paramref name="u"/> and <paramref name="v"/>.</summary>
    private void Plate(Vector3 centre, Vector3 u, Vector3 v, float radius) => Add(Math.PI * radius * radius, r =>
    {
        var a = r.NextDouble() * 2 * Math.PI;
        var d = radius * (float)Math.Sqrt(r.NextDouble());
        return centre + d * ((float)Math.Cos(a) * u + (float)Math.Sin(a) * v);
    });

    private static (Vector3 U, Vector3 V) Perpendiculars(Vector3 axis)
    {
        var n = Vector3.Normalize(axis);
        var helper = Math.Abs(n.Z) < 0.9f ? Vector3.UnitZ : Vector3.UnitX;
        var u = Vector3.Normalize(Vector3.Cross(n, helper));
        return (u, Vector3.Cross(n, u));
    }

    private static float U(Random r, float extent) => (r.NextSingle() - 0.5f) * extent;

    private static Vector3 Direction(Random r)
    {
        Vector3 d;
        do d = new Vector3(ProceduralShapes.Gaussian(r), ProceduralShapes.Gaussian(r), ProceduralShapes.Gaussian(r)); while (d.LengthSquared() < 1e-8f);
        return Vector3.Normalize(d);
    }

    /// <summary>t in [0,1] with density proportional to a + (b - a) t.</summary>
    private static float SampleLinearDensity(Random r, float a, float b)
    {
        var u = r.NextDouble();
        if (Math.Abs(b - a) < 1e-6) return (float)u;
        var t = (-a + Math.Sqrt(a * a + u * (b * b - a * a))) / (b - a);
        return (float)Math.Clamp(t, 0, 1);
    }
}
