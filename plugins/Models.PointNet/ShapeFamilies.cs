using System.Numerics;

namespace Platform.Plugins.Models.PointNet;

/// <summary>
/// The "families" set of the shapes dataset: 36 classes in seven families whose members share a silhouette and
/// differ by their parts (a back, arms, a handle, drawers, spokes), the parts' proportions and the topology. Within a
/// class optional parts come and go at random, proportions vary continuously, and the whole shape is stretched per
/// axis before the scan of <see cref="ProceduralShapes"/>, so that a bounding box alone does not tell neighbours apart.
/// Coordinates: x across, y front (-) to back (+), z up from the floor; sizes are roughly in metres (the scan
/// normalises them away).
/// </summary>
public static class ShapeFamilies
{
    public static readonly IReadOnlyList<(string Family, string[] Classes)> Families =
    [
        ("tables", ["table", "desk", "side_table", "coffee_table", "bench", "stool"]),
        ("seating", ["chair", "armchair", "sofa", "bar_chair", "rocking_chair"]),
        ("vessels", ["mug", "cup", "pitcher", "vase", "bottle", "jar", "bowl"]),
        ("cones", ["cone", "pyramid", "traffic_cone", "lamp", "tree"]),
        ("storage", ["bed", "shelf", "bookcase", "cabinet", "dresser", "wardrobe"]),
        ("bars", ["dumbbell", "barbell", "rolling_pin", "capsule"]),
        ("rings", ["ring", "tyre", "wheel"]),
    ];

    /// <summary>Class names in label order: family by family, so the first N classes keep whole families together.</summary>
    public static readonly string[] ClassNames = [.. Families.SelectMany(f => f.Classes)];

    // Per-axis scaling of the whole shape, as wide as the training augmentation's isotropic scale: it blurs the
    // proportions that would otherwise separate a coffee table from a bench, or a cabinet from a dresser.
    private const double StretchMin = 0.8, StretchMax = 1.25;

    /// <summary>One shape of class <paramref name="classId"/>, scanned as <see cref="ProceduralShapes.Generate(int, int, Random, double, double)"/> does.</summary>
    public static float[] Generate(int classId, int points, Random random, double noise, double partialViewProbability)
    {
        var shape = Build(classId, random);
        var stretch = new Vector3(ProceduralShapes.Between(random, StretchMin, StretchMax), ProceduralShapes.Between(random, StretchMin, StretchMax),
            ProceduralShapes.Between(random, StretchMin, StretchMax));
        return ProceduralShapes.Scan(shape.Surface, points, random, noise, partialViewProbability, stretch);
    }

    /// <summary>A shape being assembled: its surface and the optional parts it was given.</summary>
    internal sealed class Assembly(Random random)
    {
        public ShapeSurface Surface { get; } = new();

        /// <summary>The optional parts and styles drawn for this shape, in the order drawn.</summary>
        public List<string> Parts { get; } = [];

        public float Between(double low, double high) => ProceduralShapes.Between(random, low, high);

        public int Next(int low, int highExclusive) => random.Next(low, highExclusive);

        /// <summary>Whether this shape has <paramref name="part"/>, drawn with <paramref name="probability"/>.</summary>
        public bool Maybe(string part, double probability)
        {
            if (random.NextDouble() >= probability) return false;
            Parts.Add(part);
            return true;
        }
    }

    internal static Assembly Build(int classId, Random random)
    {
        if ((uint)classId >= (uint)ClassNames.Length)
            throw new ArgumentOutOfRangeException(nameof(classId), classId, $"The families set has {ClassNames.Length} classes.");
        Action<Assembly> build = ClassNames[classId] switch
        {
            "table" => Table,
            "desk" => Desk,
            "side_table" => SideTable,
            "coffee_table" => CoffeeTable,
            "bench" => Bench,
            "stool" => Stool,
            "chair" => Chair,
            "armchair" => a => Upholstered(a, sofa: false),
            "sofa" => a => Upholstered(a, sofa: true),
            "bar_chair" => BarChair,
            "rocking_chair" => RockingChair,
            "mug" => Mug,
            "cup" => Cup,
            "pitcher" => Pitcher,
            "vase" => Vase,
            "bottle" => Bottle,
            "jar" => Jar,
            "bowl" => Bowl,
            "cone" => Cone,
            "pyramid" => Pyramid,
            "traffic_cone" => TrafficCone,
            "lamp" => Lamp,
            "tree" => Tree,
            "bed" => Bed,
            "shelf" => Shelf,
            "bookcase" => Bookcase,
            "cabinet" => Cabinet,
            "dresser" => Dresser,
            "wardrobe" => Wardrobe,
            "dumbbell" => Dumbbell,
            "barbell" => Barbell,
            "rolling_pin" => RollingPin,
            "capsule" => Capsule,
            "ring" => Ring,
            "tyre" => Tyre,
            "wheel" => Wheel,
            var name => throw new InvalidOperationException($"No builder for families class '{name}'."),
        };
        var assembly = new Assembly(random);
        build(assembly);
        return assembly;
    }

    // ---- tables: a flat top on legs; they differ by height, proportions, drawers, shelves and leg style ----

    private static void Table(Assembly a)
    {
        var (w, d, h) = (a.Between(1.2, 2.0), a.Between(0.7, 1.1), a.Between(0.7, 0.8));
        var (top, leg, inset) = (a.Between(0.03, 0.07), a.Between(0.05, 0.09), a.Between(0, 0.08));
        TopOnLegs(a, w, d, h, top, leg, inset);
        if (a.Maybe("apron", 0.5)) Apron(a.Surface, w, d, h - top, inset, a.Between(0.08, 0.14));
        if (a.Maybe("stretchers", 0.3)) Apron(a.Surface, w, d, a.Between(0.12, 0.25), inset + leg / 4, 0.03f);
    }

    private static void Desk(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, top) = (a.Between(1.1, 1.7), a.Between(0.55, 0.8), a.Between(0.72, 0.78), a.Between(0.025, 0.05));
        s.BoxBetween(new(-w / 2, -d / 2, h - top), new(w / 2, d / 2, h));
        var pedestal = a.Between(0.35, 0.45);
        var handles = a.Maybe("drawer handles", 0.7);
        Pedestal(w / 2 - pedestal, w / 2 - 0.01f);
        if (a.Maybe("second pedestal", 0.3)) Pedestal(-w / 2 + 0.01f, -w / 2 + pedestal);
        else if (a.Maybe("panel end", 0.4)) s.BoxBetween(new(-w / 2 + 0.01f, -d / 2 + 0.03f, 0), new(-w / 2 + 0.05f, d / 2 - 0.03f, h - top));
        else
        {
            var leg = a.Between(0.04, 0.06);
            foreach (var y in new[] { -1f, 1f })
                s.BoxBetween(new(-w / 2 + 0.02f, y * (d / 2 - 0.02f) - leg / 2, 0), new(-w / 2 + 0.02f + leg, y * (d / 2 - 0.02f) + leg / 2, h - top));
        }
        if (a.Maybe("modesty panel", 0.6)) s.BoxBetween(new(-w / 2 + 0.05f, d / 2 - 0.05f, h * a.Between(0.35, 0.55)), new(w / 2 - pedestal, d / 2 - 0.03f, h - top));

        void Pedestal(float x0, float x1)
        {
            s.BoxBetween(new(x0, -d / 2 + 0.03f, 0), new(x1, d / 2 - 0.03f, h - top));
            var drawers = a.Next(2, 5);
            var front = -d / 2 + 0.03f;
            var height = (h - top - 0.04f) / drawers;
            for (var i = 0; i < drawers; i++)
            {
                var z0 = 0.04f + i * height;
                DrawerFront(s, x0 + 0.01f, x1 - 0.01f, z0 + 0.01f, z0 + height - 0.01f, front);
                if (handles) Pull(s, new Vector3((x0 + x1) / 2, front, z0 + height * 0.7f), (x1 - x0) * 0.4f);
            }
        }
    }

    private static void SideTable(Assembly a)
    {
        var s = a.Surface;
        var (w, h, top, leg) = (a.Between(0.4, 0.6), a.Between(0.5, 0.7), a.Between(0.02, 0.04), a.Between(0.03, 0.05));
        var d = w * a.Between(0.85, 1.15);
        if (a.Maybe("round top", 0.3))
        {
            s.Cylinder(new Vector3(0, 0, h - top), w / 2, top);
            // Legs, and the drawer and shelf below, on a square that fits inside the round top.
            Legs(s, w * 0.7f, w * 0.7f, h - top, leg, 0, round: true);
            d = w * 0.7f;
            w *= 0.7f;
        }
        else TopOnLegs(a, w, d, h, top, leg, a.Between(0, 0.03));
        if (a.Maybe("drawer", 0.5))
        {
            var depth = a.Between(0.1, 0.15);
            s.BoxBetween(new(-w / 2 + leg, -d / 2 + leg, h - top - depth), new(w / 2 - leg, d / 2 - leg, h - top));
            s.Sphere(new Vector3(0, -d / 2 + leg - 0.03f, h - top - depth / 2), 0.02f);
        }
        if (a.Maybe("lower shelf", 0.5)) Board(s, w / 2 - leg / 2, d / 2 - leg / 2, h * a.Between(0.12, 0.25), 0.02f);
    }

    private static void CoffeeTable(Assembly a)
    {
        var (w, d, h) = (a.Between(0.9, 1.4), a.Between(0.5, 0.8), a.Between(0.35, 0.48));
        var (top, leg, inset) = (a.Between(0.03, 0.06), a.Between(0.04, 0.08), a.Between(0, 0.06));
        TopOnLegs(a, w, d, h, top, leg, inset);
        if (a.Maybe("lower shelf", 0.5)) Board(a.Surface, w / 2 - inset - leg / 2, d / 2 - inset - leg / 2, a.Between(0.06, 0.12), 0.02f);
        if (a.Maybe("drawer", 0.3))
        {
            var depth = a.Between(0.06, 0.1);
            a.Surface.BoxBetween(new(-w / 4, -d / 2 + inset + leg, h - top - depth), new(w / 4, d / 2 - inset - leg, h - top));
        }
        else if (a.Maybe("apron", 0.4)) Apron(a.Surface, w, d, h - top, inset, a.Between(0.05, 0.09));
    }

    private static void Bench(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, top) = (a.Between(1.1, 1.8), a.Between(0.3, 0.45), a.Between(0.4, 0.5), a.Between(0.04, 0.07));
        if (a.Maybe("slatted top", 0.3))
        {
            var slats = a.Next(3, 6);
            var gap = 0.015f;
            var slat = (d - gap * (slats - 1)) / slats;
            for (var i = 0; i < slats; i++)
                s.BoxBetween(new(-w / 2, -d / 2 + i * (slat + gap), h - top), new(w / 2, -d / 2 + i * (slat + gap) + slat, h));
        }
        else s.BoxBetween(new(-w / 2, -d / 2, h - top), new(w / 2, d / 2, h));
        var inset = a.Between(0.05, 0.15);
        if (a.Maybe("slab ends", 0.5))
        {
            var slab = a.Between(0.04, 0.06);
            foreach (var x in new[] { -1f, 1f })
                s.BoxBetween(new(x * (w / 2 - inset) - slab / 2, -d * 0.45f, 0), new(x * (w / 2 - inset) + slab / 2, d * 0.45f, h - top));
        }
        else Legs(s, w - 2 * inset, d, h - top, a.Between(0.04, 0.06), 0.01f, round: a.Maybe("round legs", 0.4));
        if (a.Maybe("stretcher", 0.5)) s.BoxBetween(new(-w / 2 + inset, -0.02f, h * 0.25f), new(w / 2 - inset, 0.02f, h * 0.25f + 0.04f));
    }

    private static void Stool(Assembly a)
    {
        var (radius, h, seat) = (a.Between(0.16, 0.22), a.Between(0.45, 0.7), a.Between(0.03, 0.06));
        var square = a.Maybe("square seat", 0.4);
        var spread = SplayedSeat(a, radius, h, seat, square, a.Next(3, 5));
        if (a.Maybe("footrest", 0.5)) Footrest(a, radius, spread, h - seat, a.Between(0.25, 0.4));
    }

    // ---- seating: a seat with a back (or arms, or both); they differ by back and arm style, height and width ----

    private static void Chair(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, seat, leg) = (a.Between(0.42, 0.5), a.Between(0.4, 0.5), a.Between(0.42, 0.48), a.Between(0.03, 0.06), a.Between(0.03, 0.05));
        s.BoxBetween(new(-w / 2, -d / 2, h - seat), new(w / 2, d / 2, h));
        Legs(s, w, d, h - seat, leg, 0, round: a.Maybe("round legs", 0.3));
        Back(a, w, d, h, a.Between(0.35, 0.55), leg);
        if (a.Maybe("arms", 0.25)) Arms(a, w, d, h, leg);
        if (a.Maybe("stretchers", 0.4)) Apron(s, w, d, a.Between(0.12, 0.2), leg / 4, 0.025f);
    }

    /// <summary>An armchair, or a sofa: the same blocks, a sofa wider with several seat cushions and arms not always.</summary>
    private static void Upholstered(Assembly a, bool sofa)
    {
        var s = a.Surface;
        var w = sofa ? a.Between(1.5, 2.3) : a.Between(0.7, 0.95);
        var d = a.Between(0.7, 0.9);
        var legs = !a.Maybe("plinth", 0.3);
        var (foot, seatTop) = (legs ? a.Between(0.06, 0.15) : 0, a.Between(0.38, 0.46));
        var arm = !sofa || a.Maybe("arms", 0.85) ? a.Between(0.1, 0.2) : 0;
        var (back, backTop, armTop) = (a.Between(0.15, 0.25), a.Between(0.75, 1.0), a.Between(0.55, 0.68));
        if (legs) Legs(s, w, d, foot, a.Between(0.04, 0.06), 0.03f, round: a.Maybe("round legs", 0.5));
        s.BoxBetween(new(-w / 2 + arm, -d / 2, foot), new(w / 2 - arm, d / 2 - back, seatTop));
        if (arm > 0)
            foreach (var x in new[] { -1f, 1f })
                s.BoxBetween(new(x > 0 ? w / 2 - arm : -w / 2, -d / 2, foot), new(x > 0 ? w / 2 : -w / 2 + arm, d / 2, armTop));
        s.BoxBetween(new(-w / 2, d / 2 - back, foot), new(w / 2, d / 2, backTop));
        var cushions = sofa ? a.Next(2, 4) : a.Maybe("seat cushion", 0.5) ? 1 : 0;
        var cushion = a.Between(0.06, 0.1);
        var span = (w - 2 * arm) / Math.Max(cushions, 1);
        for (var i = 0; i < cushions; i++)
            s.BoxBetween(new(-w / 2 + arm + i * span + 0.01f, -d / 2 + 0.01f, seatTop), new(-w / 2 + arm + (i + 1) * span - 0.01f, d / 2 - back, seatTop + cushion));
        if (sofa && a.Maybe("back cushions", 0.5))
            for (var i = 0; i < cushions; i++)
                s.BoxBetween(new(-w / 2 + arm + i * span + 0.02f, d / 2 - back - 0.12f, seatTop + cushion), new(-w / 2 + arm + (i + 1) * span - 0.02f, d / 2 - back, backTop - 0.05f));
        if (sofa && a.Maybe("chaise", 0.2))
            s.BoxBetween(new(w / 2 - arm - span, -d / 2 - a.Between(0.4, 0.7), foot), new(w / 2 - arm, -d / 2, seatTop));
        if (!sofa && a.Maybe("wings", 0.3))
            foreach (var x in new[] { -1f, 1f })
                s.BoxBetween(new(x > 0 ? w / 2 - 0.06f : -w / 2, d / 2 - back - 0.2f, armTop), new(x > 0 ? w / 2 : -w / 2 + 0.06f, d / 2 - back, backTop - 0.05f));
    }

    private static void BarChair(Assembly a)
    {
        var (radius, h, seat) = (a.Between(0.17, 0.22), a.Between(0.65, 0.8), a.Between(0.03, 0.06));
        var square = a.Maybe("square seat", 0.4);
        if (a.Maybe("pedestal", 0.3))
        {
            var s = a.Surface;
            if (square) s.BoxBetween(new(-radius, -radius, h - seat), new(radius, radius, h));
            else s.Cylinder(new Vector3(0, 0, h - seat), radius, seat);
            s.Cylinder(Vector3.Zero, radius * a.Between(1.0, 1.3), 0.03f);
            s.Cylinder(new Vector3(0, 0, 0.03f), a.Between(0.02, 0.035), h - seat - 0.03f, bottomCap: false, topCap: false);
            s.Torus(new Vector3(0, 0, h * a.Between(0.3, 0.4)), radius * 0.9f, 0.012f);
        }
        else
        {
            var spread = SplayedSeat(a, radius, h, seat, square, 4);
            Footrest(a, radius, spread, h - seat, a.Between(0.3, 0.4));
        }
        Back(a, 2 * radius * 0.9f, 2 * radius * 0.9f, h, a.Between(0.2, 0.4), 0.03f);
        if (a.Maybe("arms", 0.2)) Arms(a, 2 * radius, 2 * radius, h, 0.03f);
    }

    private static void RockingChair(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, seat, leg) = (a.Between(0.45, 0.55), a.Between(0.45, 0.55), a.Between(0.4, 0.46), a.Between(0.03, 0.05), a.Between(0.03, 0.05));
        s.BoxBetween(new(-w / 2, -d / 2, h - seat), new(w / 2, d / 2, h));
        var (reach, sag, rocker) = (a.Between(0.1, 0.25), a.Between(0.04, 0.09), a.Between(0.012, 0.02));
        var half = d / 2 + reach;
        // A rocker is a shallow arc under each side: height rises with the square of the distance from its middle.
        float RockerZ(float y) => rocker + sag * (y / half) * (y / half);
        foreach (var x in new[] { -1f, 1f })
        {
            var side = x * (w / 2 - leg / 2);
            s.Bend([.. Enumerable.Range(0, 9).Select(i => -half + 2 * half * i / 8).Select(y => new Vector3(side, y, RockerZ(y)))], rocker);
            foreach (var y in new[] { -1f, 1f })
            {
                var at = y * (d / 2 - leg / 2);
                s.BoxBetween(new(side - leg / 2, at - leg / 2, RockerZ(at)), new(side + leg / 2, at + leg / 2, h - seat));
            }
        }
        Back(a, w, d, h, a.Between(0.45, 0.7), leg);
        if (a.Maybe("arms", 0.6)) Arms(a, w, d, h, leg);
    }

    // ---- vessels: surfaces of revolution, open at the top unless lidded; they differ by profile, handle, spout, lid ----

    private static void Mug(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.038, 0.05);
        var h = radius * a.Between(1.8, 2.5);
        var rim = a.Maybe("tapered", 0.3) ? radius * a.Between(1.05, 1.15) : radius;
        s.Disc(Vector3.Zero, radius);
        s.Revolve(Vector3.Zero, (radius, 0), (rim, h));
        Handle(s, Vector3.UnitX, (radius, h * 0.8f), (radius, h * 0.2f), h * a.Between(0.25, 0.35), a.Between(0.004, 0.008));
    }

    private static void Cup(Assembly a)
    {
        var s = a.Surface;
        var bottom = a.Between(0.025, 0.035);
        var rim = bottom * a.Between(1.3, 1.7);
        var h = rim * a.Between(1.0, 1.4);
        s.Disc(Vector3.Zero, bottom);
        s.Revolve(Vector3.Zero, (bottom, 0), ((bottom + rim) / 2 * 1.05f, h / 2), (rim, h));
        if (a.Maybe("handle", 0.8))
            Handle(s, Vector3.UnitX, (rim * 0.95f, h * 0.8f), (bottom * 1.05f, h * 0.25f), h * a.Between(0.2, 0.3), a.Between(0.003, 0.006));
        if (a.Maybe("saucer", 0.5))
        {
            var saucer = rim * a.Between(1.5, 1.9);
            s.Disc(new Vector3(0, 0, -0.006f), bottom * 1.2f);
            s.Revolve(new Vector3(0, 0, -0.006f), (bottom * 1.2f, 0), (saucer * 0.8f, 0.004f), (saucer, 0.012f));
        }
    }

    private static void Pitcher(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.06, 0.08);
        var h = radius * a.Between(2.2, 3.2);
        var straight = a.Maybe("straight sides", 0.3);
        var (belly, neck, lip) = straight ? (radius, radius, radius) : (radius * a.Between(1.0, 1.2), radius * a.Between(0.8, 0.95), radius * a.Between(0.9, 1.05));
        s.Disc(Vector3.Zero, radius);
        s.Revolve(Vector3.Zero, Smooth([(radius, 0), (belly, h * 0.35f), (neck, h * 0.85f), (lip, h)], 3));
        Handle(s, Vector3.UnitX, (neck, h * 0.85f), (belly, h * 0.3f), h * a.Between(0.3, 0.4), a.Between(0.006, 0.01));
        // A V-shaped spout opposite the handle: two triangles from the rim to a tip.
        var (spout, lift) = (lip * a.Between(0.3, 0.5), h * a.Between(0.02, 0.06));
        var tip = new Vector3(-lip - spout, 0, h + lift);
        var keel = new Vector3(-lip * 0.95f, 0, h - spout * 0.8f);
        foreach (var side in new[] { -1f, 1f })
            s.Triangle(new Vector3(-lip * (float)Math.Cos(0.5), side * lip * (float)Math.Sin(0.5), h), tip, keel);
    }

    private static void Vase(Assembly a)
    {
        var s = a.Surface;
        var h = a.Between(0.2, 0.4);
        var (foot, belly, neck) = (h * a.Between(0.12, 0.2), h * a.Between(0.2, 0.35), h * a.Between(0.06, 0.12));
        var lip = neck * a.Between(1.2, 1.8);
        var (bellyAt, neckAt) = (h * a.Between(0.25, 0.5), h * a.Between(0.75, 0.88));
        s.Disc(Vector3.Zero, foot);
        s.Revolve(Vector3.Zero, Smooth([(foot, 0), (belly, bellyAt), (neck, neckAt), (lip, h)], 4));
        if (a.Maybe("handles", 0.2))
            foreach (var side in new[] { Vector3.UnitX, -Vector3.UnitX })
                Handle(s, side, (neck, neckAt), ((neck + belly) / 2, (neckAt + bellyAt) / 2), h * 0.12f, 0.006f);
    }

    private static void Bottle(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.03, 0.045);
        var body = radius * a.Between(3, 5);
        var (shoulder, neck, neckLength) = (radius * a.Between(0.5, 1.5), radius * a.Between(0.3, 0.45), radius * a.Between(0.8, 2.0));
        s.Disc(Vector3.Zero, radius);
        var rounded = a.Maybe("round shoulder", 0.5);
        (float, float)[] profile = rounded
            ? [(radius, 0), (radius, body), (radius * 0.8f, body + shoulder * 0.5f), (neck, body + shoulder), (neck, body + shoulder + neckLength)]
            : [(radius, 0), (radius, body), (neck, body + shoulder), (neck, body + shoulder + neckLength)];
        s.Revolve(Vector3.Zero, profile);
        if (a.Maybe("cap", 0.6)) s.Cylinder(new Vector3(0, 0, body + shoulder + neckLength - neck), neck * 1.15f, neck * a.Between(1.0, 1.5));
    }

    private static void Jar(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.05, 0.08);
        var h = radius * a.Between(1.2, 2.0);
        var (mouth, shoulder, neck) = (radius * a.Between(0.75, 0.9), radius * a.Between(0.1, 0.25), h * a.Between(0.05, 0.1));
        s.Disc(Vector3.Zero, radius);
        s.Revolve(Vector3.Zero, (radius, 0), (radius, h - shoulder - neck), (mouth, h - neck), (mouth, h));
        if (!a.Maybe("lid", 0.7)) return;
        s.Cylinder(new Vector3(0, 0, h - neck * 0.6f), mouth * 1.06f, neck * 0.8f);
        if (a.Maybe("knob", 0.5)) s.Sphere(new Vector3(0, 0, h + neck * 0.2f + mouth * 0.15f), mouth * 0.15f);
    }

    private static void Bowl(Assembly a)
    {
        var s = a.Surface;
        var rim = a.Between(0.07, 0.12);
        var (depth, bottom) = (rim * a.Between(0.4, 0.7), rim * a.Between(0.35, 0.55));
        var foot = a.Maybe("foot ring", 0.5) ? depth * a.Between(0.08, 0.15) : 0;
        if (foot > 0) s.Cylinder(Vector3.Zero, bottom * 0.8f, foot, bottomCap: false, topCap: false);
        // The wall bulges like a quarter ellipse from the flat bottom up to the rim.
        var wall = Enumerable.Range(0, 7).Select(i => i * Math.PI / 12)
            .Select(t => (bottom + (rim - bottom) * (float)Math.Sin(t), foot + depth * (1 - (float)Math.Cos(t)))).ToArray();
        s.Disc(new Vector3(0, 0, foot), bottom);
        s.Revolve(Vector3.Zero, wall);
        if (a.Maybe("flared rim", 0.3)) s.Revolve(Vector3.Zero, (rim, foot + depth), (rim * a.Between(1.1, 1.2), foot + depth + rim * 0.03f));
    }

    // ---- cones: a form narrowing upwards; they differ by facets, base plate, tiers and the open lamp shade ----

    private static void Cone(Assembly a)
    {
        var (radius, h) = (a.Between(0.3, 0.9), a.Between(0.6, 1.8));
        var top = a.Maybe("truncated", 0.2) ? radius * a.Between(0.05, 0.2) : 0;
        a.Surface.Cone(Vector3.Zero, radius, top, h, bottomCap: true);
        if (top > 0) a.Surface.Disc(new Vector3(0, 0, h), top);
    }

    private static void Pyramid(Assembly a)
    {
        var s = a.Surface;
        var (half, h) = (a.Between(0.3, 0.9), a.Between(0.5, 1.6));
        var top = a.Maybe("truncated", 0.2) ? half * a.Between(0.08, 0.25) : 0;
        Vector3[] bottom = [new(-half, -half, 0), new(half, -half, 0), new(half, half, 0), new(-half, half, 0)];
        var upper = bottom.Select(c => new Vector3(c.X / half * top, c.Y / half * top, h)).ToArray();
        for (var i = 0; i < 4; i++)
        {
            var j = (i + 1) % 4;
            if (top > 0) s.Quad(bottom[i], bottom[j], upper[j], upper[i]);
            else s.Triangle(bottom[i], bottom[j], upper[i]);
        }
        s.Quad(bottom[0], bottom[1], bottom[2], bottom[3]);
        if (top > 0) s.Quad(upper[0], upper[1], upper[2], upper[3]);
    }

    private static void TrafficCone(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.12, 0.18);
        var (h, plate) = (radius * a.Between(2.5, 3.5), radius * a.Between(1.05, 1.3));
        var thickness = h * a.Between(0.03, 0.06);
        s.BoxBetween(new(-plate, -plate, 0), new(plate, plate, thickness));
        var top = radius * a.Between(0.12, 0.2);
        s.Cone(new Vector3(0, 0, thickness), radius, top, h, bottomCap: false);
        if (a.Maybe("collar", 0.4))
        {
            var at = a.Between(0.5, 0.7);
            s.Torus(new Vector3(0, 0, thickness + at * h), radius + (top - radius) * at + 0.006f, 0.008f);
        }
    }

    private static void Lamp(Assembly a)
    {
        var s = a.Surface;
        var (pole, poleRadius, baseRadius) = (a.Between(0.8, 1.6), a.Between(0.02, 0.05), a.Between(0.25, 0.45));
        var plinth = a.Between(0.03, 0.08);
        if (a.Maybe("square base", 0.3)) s.BoxBetween(new(-baseRadius, -baseRadius, 0), new(baseRadius, baseRadius, plinth));
        else s.Cylinder(Vector3.Zero, baseRadius, plinth);
        var head = new Vector3(0, 0, pole);
        if (a.Maybe("bent arm", 0.25))
        {
            var bend = pole * a.Between(0.6, 0.8);
            s.Cylinder(new Vector3(0, 0, plinth), poleRadius, bend - plinth, bottomCap: false, topCap: false);
            head = new Vector3(a.Between(0.2, 0.4), 0, pole);
            s.Tube(new Vector3(0, 0, bend), head, poleRadius);
        }
        else s.Cylinder(new Vector3(0, 0, plinth), poleRadius, pole - plinth, bottomCap: false, topCap: false);
        var shade = a.Between(0.25, 0.5);
        s.Cone(head - new Vector3(0, 0, shade * 0.3f), a.Between(0.3, 0.55), a.Between(0.1, 0.25), shade, bottomCap: false);
        if (a.Maybe("finial", 0.4)) s.Sphere(head + new Vector3(0, 0, shade * 0.7f + 0.03f), 0.03f);
    }

    private static void Tree(Assembly a)
    {
        var s = a.Surface;
        var h = a.Between(1.0, 1.6);
        var (trunk, trunkRadius, radius) = (h * a.Between(0.08, 0.2), h * a.Between(0.03, 0.06), h * a.Between(0.25, 0.4));
        if (a.Maybe("pot", 0.3)) s.Cone(Vector3.Zero, trunkRadius * 2.5f, trunkRadius * 3.5f, trunk, bottomCap: true);
        else s.Cylinder(Vector3.Zero, trunkRadius, trunk, bottomCap: true, topCap: false);
        var tiers = a.Next(2, 5);
        var step = (h - trunk) / (tiers + 0.5f);
        for (var i = 0; i < tiers; i++)
        {
            var tierRadius = radius * (1 - 0.55f * i / tiers);
            s.Cone(new Vector3(0, 0, trunk + i * step), tierRadius, 0, step * a.Between(1.3, 1.6), bottomCap: true);
        }
        if (a.Maybe("star", 0.4)) s.Sphere(new Vector3(0, 0, h + 0.02f), h * 0.03f);
    }

    // ---- storage: boxes and boards; they differ by openness, back panels, doors, drawers and proportions ----

    private static void Bed(Assembly a)
    {
        var s = a.Surface;
        var (w, l, frameTop, mattress) = (a.Between(0.9, 1.8), a.Between(1.9, 2.2), a.Between(0.2, 0.35), a.Between(0.15, 0.25));
        var foot = a.Maybe("legs", 0.6) ? a.Between(0.08, 0.15) : 0;
        if (foot > 0) Legs(s, w, l, foot, 0.06f, 0.02f, round: false);
        s.BoxBetween(new(-w / 2, -l / 2, foot), new(w / 2, l / 2, frameTop));
        s.BoxBetween(new(-w / 2 + 0.02f, -l / 2 + 0.02f, frameTop), new(w / 2 - 0.02f, l / 2 - 0.06f, frameTop + mattress));
        var board = a.Between(0.04, 0.08);
        s.BoxBetween(new(-w / 2, l / 2 - board, 0), new(w / 2, l / 2, frameTop + mattress + a.Between(0.3, 0.7)));
        if (a.Maybe("footboard", 0.5)) s.BoxBetween(new(-w / 2, -l / 2, 0), new(w / 2, -l / 2 + board, frameTop + mattress + a.Between(0.05, 0.25)));
        if (!a.Maybe("pillows", 0.6)) return;
        var pillows = w > 1.3f ? 2 : 1;
        for (var i = 0; i < pillows; i++)
            s.Ellipsoid(new Vector3(-w / 2 + w * (i + 0.5f) / pillows, l / 2 - 0.3f, frameTop + mattress + 0.05f), new Vector3(w / pillows * 0.35f, 0.18f, 0.06f));
    }

    private static void Shelf(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, post) = (a.Between(0.6, 1.2), a.Between(0.3, 0.45), a.Between(0.8, 1.8), a.Between(0.025, 0.04));
        var casters = a.Maybe("casters", 0.2) ? 0.04f : 0;
        if (casters > 0)
            foreach (var x in new[] { -1f, 1f })
            foreach (var y in new[] { -1f, 1f })
                s.Sphere(new Vector3(x * (w / 2 - post / 2), y * (d / 2 - post / 2), casters / 2), casters / 2);
        foreach (var x in new[] { -1f, 1f })
        foreach (var y in new[] { -1f, 1f })
            s.BoxBetween(new(x * w / 2 - (x > 0 ? post : 0), y * d / 2 - (y > 0 ? post : 0), casters), new(x * w / 2 + (x < 0 ? post : 0), y * d / 2 + (y < 0 ? post : 0), h));
        var boards = a.Next(3, 6);
        var (first, thickness) = (casters + h * a.Between(0.05, 0.15), a.Between(0.015, 0.03));
        for (var i = 0; i < boards; i++) Board(s, w / 2, d / 2, first + (h - thickness - first) * i / (boards - 1), thickness);
        if (!a.Maybe("cross braces", 0.4)) return;
        s.Tube(new Vector3(-w / 2, d / 2, first), new Vector3(w / 2, d / 2, h), 0.006f);
        s.Tube(new Vector3(w / 2, d / 2, first), new Vector3(-w / 2, d / 2, h), 0.006f);
    }

    private static void Bookcase(Assembly a)
    {
        var s = a.Surface;
        var (w, d, h, panel) = (a.Between(0.6, 1.2), a.Between(0.25, 0.4), a.Between(1.0, 2.0), a.Between(0.015, 0.03));
        foreach (var x in new[] { -1f, 1f })
            s.BoxBetween(new(x > 0 ? w / 2 - panel : -w / 2, -d / 2, 0), new(x > 0 ? w / 2 : -w / 2 + panel, d / 2, h));
        var plinth = a.Maybe("plinth", 0.5) ? a.Between(0.05, 0.1) : 0.02f;
        if (plinth > 0.02f) s.BoxBetween(new(-w / 2 + panel, -d / 2, 0), new(w / 2 - panel, -d / 2 + panel, plinth));
        var inner = w / 2 - panel;
        var shelves = a.Next(2, 6);
        for (var i = 0; i <= shelves + 1; i++) Board(s, inner, d / 2, plinth + (h - panel - plinth) * i / (shelves + 1), panel);
        if (a.Maybe("back panel", 0.85)) s.BoxBetween(new(-inner, d / 2 - 0.008f, plinth), new(inner, d / 2, h - panel));
        if (!a.Maybe("lower doors", 0.3)) return;
        var doorTop = plinth + (h - panel - plinth) / (shelves + 1);
        s.BoxBetween(new(-inner, -d / 2 - 0.025f, plinth), new(inner, -d / 2, doorTop));
        foreach (var x in new[] { -1f, 1f }) s.Sphere(new Vector3(x * 0.04f, -d / 2 - 0.045f, doorTop - 0.08f), 0.02f);
    }

    private static void Cabinet(Assembly a)
    {
        var s = a.Surface;
        var (w, h, d) = (a.Between(0.6, 1.0), a.Between(0.7, 1.1), a.Between(0.4, 0.6));
        var bottom = Carcass(a, w, h, d);
        var top = h;
        if (a.Maybe("countertop", 0.4))
        {
            var overhang = a.Between(0.02, 0.04);
            s.BoxBetween(new(-w / 2 - overhang, -d / 2 - overhang, h), new(w / 2 + overhang, d / 2, h + 0.03f));
        }
        if (a.Maybe("top drawer", 0.3))
        {
            var drawer = a.Between(0.12, 0.18);
            DrawerFront(s, -w / 2 + 0.01f, w / 2 - 0.01f, top - drawer, top - 0.01f, -d / 2);
            s.Sphere(new Vector3(0, -d / 2 - 0.045f, top - drawer / 2), 0.02f);
            top -= drawer;
        }
        Doors(a, w, d, bottom, top, a.Next(1, 3), a.Between(0.08, 0.15));
    }

    private static void Dresser(Assembly a)
    {
        var s = a.Surface;
        var (w, h, d) = (a.Between(0.9, 1.5), a.Between(0.7, 1.0), a.Between(0.45, 0.55));
        var bottom = Carcass(a, w, h, d);
        var (rows, columns) = (a.Next(3, 6), a.Maybe("two columns", 0.5) ? 2 : 1);
        var twoKnobs = a.Maybe("two knobs per drawer", 0.5);
        var (width, height) = ((w - 0.02f) / columns, (h - bottom - 0.02f) / rows);
        for (var row = 0; row < rows; row++)
        for (var column = 0; column < columns; column++)
        {
            var (x0, z0) = (-w / 2 + 0.01f + column * width, bottom + 0.01f + row * height);
            DrawerFront(s, x0 + 0.01f, x0 + width - 0.01f, z0 + 0.01f, z0 + height - 0.01f, -d / 2);
            foreach (var at in twoKnobs ? new[] { 0.25f, 0.75f } : [0.5f])
                s.Sphere(new Vector3(x0 + width * at, -d / 2 - 0.045f, z0 + height / 2), 0.02f);
        }
        if (a.Maybe("mirror", 0.25)) s.BoxBetween(new(-w * 0.35f, d / 2 - 0.03f, h), new(w * 0.35f, d / 2 - 0.01f, h + a.Between(0.5, 0.8)));
    }

    private static void Wardrobe(Assembly a)
    {
        var s = a.Surface;
        var (w, h, d) = (a.Between(0.8, 1.6), a.Between(1.8, 2.2), a.Between(0.55, 0.65));
        var bottom = Carcass(a, w, h, d);
        if (a.Maybe("crown", 0.4)) s.BoxBetween(new(-w / 2 - 0.03f, -d / 2 - 0.03f, h), new(w / 2 + 0.03f, d / 2, h + 0.06f));
        if (a.Maybe("drawers", 0.5))
        {
            var (drawer, count) = (a.Between(0.2, 0.3), a.Next(1, 3));
            var width = (w - 0.02f) / count;
            for (var i = 0; i < count; i++)
            {
                var x0 = -w / 2 + 0.01f + i * width;
                DrawerFront(s, x0 + 0.01f, x0 + width - 0.01f, bottom + 0.01f, bottom + drawer, -d / 2);
                s.Sphere(new Vector3(x0 + width / 2, -d / 2 - 0.045f, bottom + drawer / 2), 0.02f);
            }
            bottom += drawer;
        }
        Doors(a, w, d, bottom, h, a.Next(2, 4), a.Between(0.3, 0.5));
    }

    // ---- bars: lying along x; they differ by the ends (spheres, discs, plates, handles, domes) and the bar's length ----

    private static void Dumbbell(Assembly a)
    {
        var s = a.Surface;
        var (half, bar, head) = (a.Between(0.06, 0.1), a.Between(0.014, 0.02), a.Between(0.04, 0.07));
        var lift = new Vector3(0, 0, head);
        s.Tube(new Vector3(-half, 0, 0) + lift, new Vector3(half, 0, 0) + lift, bar);
        var round = a.Maybe("round heads", 0.3);
        var length = a.Between(0.04, 0.08);
        foreach (var x in new[] { -1f, 1f })
        {
            if (round) s.Sphere(new Vector3(x * (half + head * 0.8f), 0, 0) + lift, head);
            else s.Tube(new Vector3(x * half, 0, 0) + lift, new Vector3(x * (half + length), 0, 0) + lift, head, caps: true);
        }
    }

    private static void Barbell(Assembly a)
    {
        var s = a.Surface;
        var (half, bar, plate) = (a.Between(0.6, 1.1), a.Between(0.014, 0.025), a.Between(0.12, 0.23));
        var sleeve = half * a.Between(0.25, 0.35);
        var lift = new Vector3(0, 0, plate);
        Vector3 X(float x) => new Vector3(x, 0, 0) + lift;
        s.Tube(X(-half + sleeve), X(half - sleeve), bar);
        var plates = a.Next(1, 5);
        var thicknesses = Enumerable.Range(0, plates).Select(_ => a.Between(0.02, 0.05)).ToArray();
        var shrink = a.Between(0.55, 0.8);
        var collars = a.Maybe("collars", 0.6);
        foreach (var side in new[] { -1f, 1f })
        {
            s.Tube(X(side * (half - sleeve)), X(side * half), bar * 1.6f, caps: true);
            var x = half - sleeve + 0.02f;
            var radius = plate;
            for (var i = 0; i < plates; i++)
            {
                s.Tube(X(side * x), X(side * (x + thicknesses[i])), radius, caps: true);
                x += thicknesses[i];
                radius *= shrink;
            }
            if (collars) s.Tube(X(side * x), X(side * (x + 0.04f)), bar * 2.2f, caps: true);
        }
    }

    private static void RollingPin(Assembly a)
    {
        var s = a.Surface;
        var (half, radius, handle, grip) = (a.Between(0.12, 0.18), a.Between(0.025, 0.035), a.Between(0.06, 0.1), a.Between(0.01, 0.015));
        var lift = new Vector3(0, 0, radius);
        s.Tube(new Vector3(-half, 0, 0) + lift, new Vector3(half, 0, 0) + lift, radius, caps: true);
        var knobs = a.Maybe("knobs", 0.4);
        foreach (var x in new[] { -1f, 1f })
        {
            s.Tube(new Vector3(x * half, 0, 0) + lift, new Vector3(x * (half + handle), 0, 0) + lift, grip, caps: !knobs);
            if (knobs) s.Sphere(new Vector3(x * (half + handle), 0, 0) + lift, grip * 1.6f);
        }
    }

    private static void Capsule(Assembly a)
    {
        var s = a.Surface;
        var (radius, half) = (a.Between(0.2, 0.5), a.Between(0.2, 0.8));
        var lift = new Vector3(0, 0, radius);
        s.Tube(new Vector3(-half, 0, 0) + lift, new Vector3(half, 0, 0) + lift, radius);
        foreach (var x in new[] { -1f, 1f }) s.Dome(new Vector3(x * half, 0, 0) + lift, radius, new Vector3(x, 0, 0));
    }

    // ---- rings: lying flat; they differ by cross-section (round, square), spokes, hub and a disc ----

    private static void Ring(Assembly a)
    {
        var major = a.Between(0.5, 1.0);
        var minor = major * a.Between(0.08, 0.35);
        a.Surface.Torus(Vector3.Zero, major, minor);
        if (a.Maybe("gem", 0.2)) a.Surface.Ellipsoid(new Vector3(major, 0, minor), new Vector3(minor * 1.2f, minor * 1.2f, minor * 0.8f));
    }

    private static void Tyre(Assembly a)
    {
        var s = a.Surface;
        var outer = a.Between(0.3, 0.4);
        var (inner, width) = (outer * a.Between(0.55, 0.75), outer * a.Between(0.3, 0.7));
        s.Cylinder(Vector3.Zero, outer, width, bottomCap: false, topCap: false);
        s.Cylinder(Vector3.Zero, inner, width, bottomCap: false, topCap: false);
        s.Annulus(Vector3.Zero, inner, outer);
        s.Annulus(new Vector3(0, 0, width), inner, outer);
        if (!a.Maybe("rim disc", 0.5)) return;
        s.Disc(new Vector3(0, 0, width / 2), inner);
        s.Cylinder(new Vector3(0, 0, width * 0.2f), inner * 0.2f, width * 0.6f);
    }

    private static void Wheel(Assembly a)
    {
        var s = a.Surface;
        var radius = a.Between(0.3, 0.4);
        s.Torus(Vector3.Zero, radius, radius * (a.Maybe("tyre", 0.5) ? a.Between(0.1, 0.15) : a.Between(0.03, 0.05)));
        var (hub, hubHeight) = (radius * a.Between(0.08, 0.15), radius * a.Between(0.15, 0.3));
        s.Cylinder(new Vector3(0, 0, -hubHeight / 2), hub, hubHeight);
        var spokes = a.Next(3, 9);
        var spoke = radius * a.Between(0.01, 0.03);
        for (var i = 0; i < spokes; i++)
        {
            var direction = new Vector3((float)Math.Cos(2 * Math.PI * i / spokes), (float)Math.Sin(2 * Math.PI * i / spokes), 0);
            s.Tube(direction * hub, direction * radius, spoke);
        }
    }

    // ---- parts several classes share ----

    private static void TopOnLegs(Assembly a, float w, float d, float h, float top, float leg, float inset)
    {
        a.Surface.BoxBetween(new(-w / 2, -d / 2, h - top), new(w / 2, d / 2, h));
        Legs(a.Surface, w - 2 * inset, d - 2 * inset, h - top, leg, 0, round: a.Maybe("round legs", 0.4));
    }

    /// <summary>Four legs of height <paramref name="h"/> in the corners of a w x d rectangle, inset by <paramref name="inset"/>.</summary>
    private static void Legs(ShapeSurface s, float w, float d, float h, float leg, float inset, bool round)
    {
        foreach (var x in new[] { -1f, 1f })
        foreach (var y in new[] { -1f, 1f })
        {
            var foot = new Vector3(x * (w / 2 - inset - leg / 2), y * (d / 2 - inset - leg / 2), 0);
            if (round) s.Cylinder(foot, leg / 2, h, bottomCap: false, topCap: false);
            else s.BoxBetween(foot - new Vector3(leg / 2, leg / 2, 0), foot + new Vector3(leg / 2, leg / 2, h));
        }
    }

    /// <summary>Boards along the four edges just below height <paramref name="under"/>: an apron, or, low down, stretchers.</summary>
    private static void Apron(ShapeSurface s, float w, float d, float under, float inset, float depth)
    {
        const float board = 0.02f;
        var (x, y) = (w / 2 - inset, d / 2 - inset);
        s.BoxBetween(new(-x, -y, under - depth), new(x, -y + board, under));
        s.BoxBetween(new(-x, y - board, under - depth), new(x, y, under));
        s.BoxBetween(new(-x, -y, under - depth), new(-x + board, y, under));
        s.BoxBetween(new(x - board, -y, under - depth), new(x, y, under));
    }

    /// <summary>A horizontal board of half-extents (x, y) with its underside at height z.</summary>
    private static void Board(ShapeSurface s, float x, float y, float z, float thickness) =>
        s.BoxBetween(new(-x, -y, z), new(x, y, z + thickness));

    /// <summary>A drawer's or a door's front, standing proud of a carcass face at y = <paramref name="face"/>.</summary>
    private static void DrawerFront(ShapeSurface s, float x0, float x1, float z0, float z1, float face) =>
        s.BoxBetween(new(x0, face - 0.025f, z0), new(x1, face, z1));

    /// <summary>A bar pull standing off the front of a drawer or door whose carcass face is at <paramref name="centre"/>'s y.</summary>
    private static void Pull(ShapeSurface s, Vector3 centre, float length, bool vertical = false)
    {
        var half = vertical ? new Vector3(0, 0, length / 2) : new Vector3(length / 2, 0, 0);
        var at = centre - new Vector3(0, 0.05f, 0);
        s.Tube(at - half, at + half, 0.01f);
    }

    /// <summary>A closed box on legs or on a plinth; returns the height of its floor.</summary>
    private static float Carcass(Assembly a, float w, float h, float d)
    {
        var bottom = a.Maybe("legs", 0.4) ? a.Between(0.08, 0.15) : 0;
        if (bottom > 0) Legs(a.Surface, w, d, bottom, 0.04f, 0.02f, round: a.Maybe("round legs", 0.5));
        a.Surface.BoxBetween(new(-w / 2, -d / 2, bottom), new(w / 2, d / 2, h));
        return bottom;
    }

    /// <summary>Doors side by side on the front between heights z0 and z1, each with a vertical pull by the meeting edge.</summary>
    private static void Doors(Assembly a, float w, float d, float z0, float z1, int count, float pull)
    {
        var width = (w - 0.02f) / count;
        for (var i = 0; i < count; i++)
        {
            var x0 = -w / 2 + 0.01f + i * width;
            DrawerFront(a.Surface, x0 + 0.01f, x0 + width - 0.01f, z0 + 0.01f, z1 - 0.01f, -d / 2);
            // A single door opens from its right edge; in a pair or more, pulls sit either side of the middle.
            var edge = count == 1 || x0 + width / 2 < 0 ? x0 + width - 0.05f : x0 + 0.05f;
            Pull(a.Surface, new Vector3(edge, -d / 2, (z0 + z1) / 2), Math.Min(pull, (z1 - z0) * 0.6f), vertical: true);
        }
    }

    /// <summary>A round or square seat on round legs splayed from 0.7 of its radius to a drawn multiple at the floor; returns that multiple.</summary>
    private static float SplayedSeat(Assembly a, float radius, float h, float seat, bool square, int legs)
    {
        var s = a.Surface;
        if (square) s.BoxBetween(new(-radius, -radius, h - seat), new(radius, radius, h));
        else s.Cylinder(new Vector3(0, 0, h - seat), radius, seat);
        var (spread, leg) = (a.Between(0.8, 1.1), a.Between(0.015, 0.025));
        for (var i = 0; i < legs; i++)
        {
            var angle = 2 * Math.PI * i / legs + Math.PI / 4;
            var direction = new Vector3((float)Math.Cos(angle), (float)Math.Sin(angle), 0);
            s.Tube(direction * radius * 0.7f + new Vector3(0, 0, h - seat), direction * radius * spread, leg);
        }
        return spread;
    }

    /// <summary>A ring touching the splayed legs of <see cref="SplayedSeat"/> at a fraction of their height.</summary>
    private static void Footrest(Assembly a, float radius, float spread, float legTop, float fraction) =>
        a.Surface.Torus(new Vector3(0, 0, legTop * fraction), radius * (spread + (0.7f - spread) * fraction), 0.01f);

    /// <summary>A back over the rear of a w x d seat whose top is at height z: a solid panel, or posts with a rail and slats.</summary>
    private static void Back(Assembly a, float w, float d, float z, float height, float post)
    {
        var s = a.Surface;
        if (a.Maybe("slatted back", 0.5))
        {
            var rail = a.Between(0.05, 0.1);
            foreach (var x in new[] { -1f, 1f })
                s.BoxBetween(new(x * (w / 2 - post / 2) - post / 2, d / 2 - post, z), new(x * (w / 2 - post / 2) + post / 2, d / 2, z + height));
            s.BoxBetween(new(-w / 2, d / 2 - post, z + height - rail), new(w / 2, d / 2, z + height));
            var slats = a.Next(2, 5);
            for (var i = 1; i <= slats; i++)
            {
                var x = -w / 2 + post + (w - 2 * post) * i / (slats + 1);
                s.BoxBetween(new(x - 0.015f, d / 2 - post * 0.7f, z), new(x + 0.015f, d / 2 - post * 0.3f, z + height - rail));
            }
        }
        else s.BoxBetween(new(-w / 2, d / 2 - a.Between(0.02, 0.04), z), new(w / 2, d / 2, z + height));
    }

    /// <summary>An arm on each side of a seat whose top is at height z: a rail on a front post.</summary>
    private static void Arms(Assembly a, float w, float d, float z, float post)
    {
        var (rise, rail) = (a.Between(0.18, 0.26), a.Between(0.04, 0.06));
        foreach (var x in new[] { -1f, 1f })
        {
            var side = x * (w / 2 - rail / 2);
            a.Surface.BoxBetween(new(side - post / 2, -d / 2 + 0.02f, z), new(side + post / 2, -d / 2 + 0.02f + post, z + rise));
            a.Surface.BoxBetween(new(side - rail / 2, -d / 2, z + rise), new(side + rail / 2, d / 2, z + rise + 0.03f));
        }
    }

    /// <summary>A handle on a vessel's side: a bent tube from the wall at <paramref name="top"/> out by <paramref name="reach"/> and back at <paramref name="bottom"/>.</summary>
    private static void Handle(ShapeSurface s, Vector3 side, (float Radius, float Height) top, (float Radius, float Height) bottom, float reach, float thickness)
    {
        var path = Enumerable.Range(0, 9).Select(i => i * Math.PI / 8).Select(t =>
        {
            var along = (float)(1 - Math.Cos(t)) / 2;
            var wall = top.Radius + (bottom.Radius - top.Radius) * along;
            return side * (wall + reach * (float)Math.Sin(t)) + new Vector3(0, 0, top.Height + (bottom.Height - top.Height) * along);
        }).ToArray();
        s.Bend(path, thickness);
    }

    /// <summary>A profile through the key (radius, height) points, eased between them so that a belly or a neck is round.</summary>
    private static (float Radius, float Height)[] Smooth((float Radius, float Height)[] keys, int steps)
    {
        var profile = new List<(float, float)> { keys[0] };
        for (var k = 1; k < keys.Length; k++)
        for (var i = 1; i <= steps; i++)
        {
            var t = (float)i / steps;
            var eased = (1 - (float)Math.Cos(Math.PI * t)) / 2;
            profile.Add((keys[k - 1].Radius + (keys[k].Radius - keys[k - 1].Radius) * eased, keys[k - 1].Height + (keys[k].Height - keys[k - 1].Height) * t));
        }
        return [.. profile];
    }
}
