using System.Globalization;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>One generated frame: the scan (x, y, z, reflectance) and its label_2 records.</summary>
/// <summary>Frames in each split of a synthetic set; frames are numbered train, then val, then test.</summary>
public readonly record struct SyntheticSplits(int Train, int Val, int Test)
{
    /// <summary>The embedded default: 400 training frames, and val and test splits large enough that AP intervals are a point or two wide.</summary>
    public static SyntheticSplits Default => new(400, 500, 500);

    public int Total => Train + Val + Test;

    public void Validate()
    {
        if (Train < 0 || Val < 0 || Test < 0 || Total < 1 || (long)Train + Val + Test > 100_000)
            throw new ArgumentException($"The synthetic KITTI set needs 0 or more frames per split and 1 to 100000 in all (train {Train}, val {Val}, test {Test}).");
    }

    public override string ToString() => $"{Train} train, {Val} val, {Test} test frames";
}

public sealed record SyntheticFrame(float[] Points, IReadOnlyList<KittiObject> Labels, int RaysCast);

/// <summary>
/// Street scenes in the KITTI object format, made by ray casting a simulated Velodyne HDL-64E (KITTI's
/// sensor: 64 beams over 26.9° of elevation, +2° to -24.9°, 0.08° azimuth steps, mounted 1.73 m above the
/// road) against the ground, cars, vans, pedestrians, cyclists and clutter (building walls, poles,
/// vegetation, parked rows). Only the azimuths of the front camera's field of view plus a margin are cast
/// (±45° of the 360°, 1125 of the 4500 columns): everything outside is cropped by the reader anyway.
/// Occlusion levels come from the fraction of an object's rays that reach it first, truncation and the 2D
/// box from projecting the 3D box with P2, so the devkit's difficulty levels mean what they mean in KITTI.
/// </summary>
public static class SyntheticKittiScenes
{
    public const int Beams = 64;
    public const double ElevationTopDeg = 2.0;
    public const double ElevationBottomDeg = -24.9;
    public const double AzimuthStepDeg = 0.08;
    public const double AzimuthHalfWidthDeg = 45.0;
    public const double SensorHeight = 1.73;
    public const double MaxRange = 100.0;
    public const int ImageWidth = 1242;
    public const int ImageHeight = 375;
    private const string GeneratorVersion = "kitti-synth 1";

    /// <summary>The calibration of KITTI drive 2011_09_26 (the one most object frames come from).</summary>
    public static KittiCalibration Calibration { get; } = new(
        P0: [707.0493, 0, 604.0814, 0, 0, 707.0493, 180.5066, 0, 0, 0, 1, 0],
        P1: [707.0493, 0, 604.0814, -379.7842, 0, 707.0493, 180.5066, 0, 0, 0, 1, 0],
        P2: [707.0493, 0, 604.0814, 45.75831, 0, 707.0493, 180.5066, -0.3454157, 0, 0, 1, 0.004981016],
        P3: [707.0493, 0, 604.0814, -334.1081, 0, 707.0493, 180.5066, 2.33066, 0, 0, 1, 0.003201153],
        R0Rect: [0.9999128, 0.01009263, -0.008511932, -0.01012729, 0.9999406, -0.004037671, 0.008470675, 0.004123522, 0.9999556],
        VeloToCam: [0.006927964, -0.9999722, -0.002757829, -0.02457729, -0.001162982, 0.002749836, -0.9999955, -0.06127237, 0.9999753, 0.006931141, -0.001143899, -0.3321029],
        ImuToVelo: [0.9999976, 0.0007553071, -0.002035826, -0.8086759, -0.0007854027, 0.9998898, -0.01482298, 0.3195559, 0.002024406, 0.01482454, 0.9998881, -0.7997231]);

    private enum Material { Ground, Vehicle, Person, Bicycle, Wall, Pole, Vegetation }

    /// <summary>An upright box in the lidar frame; <see cref="Owner"/> is the object it belongs to (-1 for clutter).</summary>
    private readonly record struct Solid(double Cx, double Cy, double ZBottom, double ZTop, double HalfL, double HalfW, double Yaw, Material Material, float Reflectance, int Owner);

    private sealed record SceneObject(string Type, Box3D Box);

    /// <summary>Generates frame <paramref name="index"/> of the set with <paramref name="seed"/>; depends on nothing else.</summary>
    public static SyntheticFrame Generate(int seed, int index)
    {
        var random = Seeding.Random(seed, "kitti-synth/frame/" + index.ToString(CultureInfo.InvariantCulture));
        var (objects, solids) = ComposeScene(random);
        var cast = CastRays(solids, objects.Count, random);
        var labels = Label(objects, cast.FirstHits, cast.Crossings);
        return new SyntheticFrame(cast.Points, labels, cast.Rays);
    }

    /// <summary>
    /// Writes a complete KITTI object tree at <paramref name="root"/>: it appears whole or not at all. Frames are
    /// numbered train first, then val, then test, and frame i's content depends only on (seed, i), so a larger
    /// val or test split never changes the training frames.
    /// </summary>
    public static void GenerateTree(string root, SyntheticSplits splits, int seed, IProgressReporter progress)
    {
        splits.Validate();
        root = Path.GetFullPath(root);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
            throw new IOException($"{root}: folder exists and is not empty; choose another output folder for the synthetic KITTI set.");
        var parent = Path.GetDirectoryName(root)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, "." + Path.GetFileName(root) + ".partial-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var training = Path.Combine(staging, "training");
            foreach (var sub in new[] { "velodyne", "label_2", "calib" }) Directory.CreateDirectory(Path.Combine(training, sub));
            var calibText = KittiFiles.FormatCalibration(Calibration);
            var frames = splits.Total;
            var ids = Enumerable.Range(0, frames).Select(i => i.ToString("D6", CultureInfo.InvariantCulture)).ToArray();
            using (var task = progress.Start($"Generating synthetic KITTI ({splits}, seed {seed})", frames))
            {
                // Frames are independent; the order of writing does not change a byte.
                Parallel.For(0, frames, i =>
                {
                    var frame = Generate(seed, i);
                    KittiFiles.WriteVelodyne(Path.Combine(training, "velodyne", ids[i] + ".bin"), frame.Points);
                    KittiFiles.WriteLabels(Path.Combine(training, "label_2", ids[i] + ".txt"), frame.Labels, withScore: false);
                    AtomicFile.WriteAllText(Path.Combine(training, "calib", ids[i] + ".txt"), calibText);
                    lock (task) task.Advance();
                });
            }
            var sets = Path.Combine(staging, "ImageSets");
            static string Lines(IEnumerable<string> list) => string.Concat(list.Select(id => id + "\n"));
            AtomicFile.WriteAllText(Path.Combine(sets, "train.txt"), Lines(ids.Take(splits.Train)));
            AtomicFile.WriteAllText(Path.Combine(sets, "val.txt"), Lines(ids.Skip(splits.Train).Take(splits.Val)));
            if (splits.Test > 0) AtomicFile.WriteAllText(Path.Combine(sets, "test.txt"), Lines(ids.Skip(splits.Train + splits.Val)));
            AtomicFile.WriteAllText(Path.Combine(sets, "trainval.txt"), Lines(ids.Take(splits.Train + splits.Val)));
            AtomicFile.WriteAllText(Path.Combine(staging, ProvenanceFile),
                $"{GeneratorVersion}\nframes {frames}\ntrain {splits.Train}\nval {splits.Val}\ntest {splits.Test}\nseed {seed}\n" +
                $"sensor 64 beams, {ElevationTopDeg}..{ElevationBottomDeg} deg, {AzimuthStepDeg} deg steps within +-{AzimuthHalfWidthDeg} deg, {SensorHeight} m high\n");
            if (Directory.Exists(root)) Directory.Delete(root);
            try
            {
                Directory.Move(staging, root);
            }
            catch (IOException) when (File.Exists(Path.Combine(root, ProvenanceFile)))
            {
                // Another process finished the same set first: keep its copy.
            }
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private const string ProvenanceFile = "kitti-synth.txt";

    /// <summary>
    /// Split sizes and seed a generated tree was made with (null when the folder is not a generated set). Trees
    /// written before the splits were recorded (80 % train, 20 % val) read as such.
    /// </summary>
    public static (SyntheticSplits Splits, int Seed)? ReadProvenance(string root)
    {
        var path = Path.Combine(root, ProvenanceFile);
        if (!File.Exists(path)) return null;
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path).Take(64))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) values[parts[0]] = v;
        }
        if (!values.TryGetValue("frames", out var frames) || !values.TryGetValue("seed", out var seed)) return null;
        if (values.TryGetValue("train", out var train) && values.TryGetValue("val", out var val))
            return (new SyntheticSplits(train, val, values.GetValueOrDefault("test")), seed);
        var oldTrain = frames == 1 ? 1 : Math.Min(frames - 1, (int)Math.Round(frames * 0.8));
        return (new SyntheticSplits(oldTrain, frames - oldTrain, 0), seed);
    }

    // ---- scene composition ----

    private static (List<SceneObject> Objects, List<Solid> Solids) ComposeScene(Random r)
    {
        var objects = new List<SceneObject>();
        var solids = new List<Solid>();
        var footprints = new List<(double X, double Y, double L, double W, double Yaw)>();
        var ground = -SensorHeight;
        var roadHalf = Uniform(r, 4.5, 8.0);

        bool Free(double x, double y, double l, double w, double yaw, double margin)
        {
            foreach (var f in footprints)
            {
                if (RotatedRectangle.IntersectionArea(x, y, l + margin, w + margin, yaw, f.X, f.Y, f.L + margin, f.W + margin, f.Yaw) > 0) return false;
            }
            // Keep a clear zone around the sensor car.
            return !(Math.Abs(x) < 3.5 + l / 2 && Math.Abs(y) < 1.5 + w / 2);
        }

        void AddObject(string type, double x, double y, double l, double w, double h, double yaw)
        {
            var owner = objects.Count;
            objects.Add(new SceneObject(type, new Box3D((float)x, (float)y, (float)(ground + h / 2), (float)l, (float)w, (float)h, (float)yaw, 0)));
            footprints.Add((x, y, l, w, yaw));
            double c = Math.Cos(yaw), s = Math.Sin(yaw);
            switch (type)
            {
                case "Car" or "Van":
                {
                    // Body (wheels to bonnet) and a narrower, shorter cabin: the lidar sees a car's stepped outline.
                    var paint = (float)Uniform(r, 0.05, 0.9);
                    var body = type == "Car" ? 0.6 : 0.75;
                    solids.Add(new Solid(x, y, ground + 0.15, ground + h * body, l / 2, w / 2, yaw, Material.Vehicle, paint, owner));
                    var cabinShift = type == "Car" ? -0.08 * l : 0.1 * l;
                    var cabinLength = type == "Car" ? 0.5 * l : 0.75 * l;
                    solids.Add(new Solid(x + c * cabinShift, y + s * cabinShift, ground + h * body, ground + h, cabinLength / 2, 0.46 * w, yaw, Material.Vehicle, paint * 0.6f, owner));
                    break;
                }
                case "Pedestrian":
                    solids.Add(new Solid(x, y, ground, ground + h, l / 2 * 0.7, w / 2, yaw, Material.Person, (float)Uniform(r, 0.15, 0.5), owner));
                    break;
                default: // Cyclist: the bicycle, and the rider above its middle.
                    solids.Add(new Solid(x, y, ground, ground + 0.55 * h, l / 2, 0.1, yaw, Material.Bicycle, (float)Uniform(r, 0.2, 0.7), owner));
                    solids.Add(new Solid(x, y, ground + 0.45 * h, ground + h, 0.25 * l, w / 2, yaw, Material.Person, (float)Uniform(r, 0.15, 0.5), owner));
                    break;
            }
        }

        void AddClutter(double x, double y, double l, double w, double zTop, double yaw, Material m, float reflectance)
        {
            footprints.Add((x, y, l, w, yaw));
            solids.Add(new Solid(x, y, ground, ground + zTop, l / 2, w / 2, yaw, m, reflectance, -1));
        }

        double Heading(double along, double spread) => (r.NextDouble() < 0.5 ? along : along + Math.PI) + Normal(r, 0, spread);

        // Parked rows along the kerbs: cars nearly parallel to the road, some gaps.
        foreach (var side in new[] { -1, 1 })
        {
            // KITTI averages about 4 cars per frame, many of them parked; rows are partly filled.
            if (r.NextDouble() > 0.5) continue;
            var y = side * (roadHalf + Uniform(r, 0.9, 1.4));
            for (var x = Uniform(r, 2, 8); x < 60; x += Uniform(r, 5.2, 7.5))
            {
                if (r.NextDouble() > 0.5) continue;
                var (l, w, h) = CarSize(r);
                var yaw = Heading(0, 0.05);
                if (Free(x, y, l, w, yaw, 0.2)) AddObject("Car", x, y, l, w, h, yaw);
            }
        }
        // Traffic: cars and the odd van in the lanes, a few turning or crossing at any heading.
        var traffic = r.Next(1, 6);
        for (var k = 0; k < traffic; k++)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var van = r.NextDouble() < 0.1;
                var (l, w, h) = van ? (Normal(r, 5.1, 0.3), Normal(r, 1.95, 0.08), Normal(r, 2.2, 0.12)) : CarSize(r);
                var x = Uniform(r, 5, 65);
                var y = Uniform(r, -roadHalf + w, roadHalf - w);
                var yaw = r.NextDouble() < 0.2 ? Uniform(r, -Math.PI, Math.PI) : Heading(0, 0.12);
                if (!Free(x, y, l, w, yaw, 0.8)) continue;
                AddObject(van ? "Van" : "Car", x, y, l, w, h, yaw);
                break;
            }
        }
        // Pedestrians on the pavements, now and then crossing.
        var pedestrians = r.Next(0, 5);
        for (var k = 0; k < pedestrians; k++)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var l = Math.Clamp(Normal(r, 0.84, 0.15), 0.5, 1.2);
                var w = Math.Clamp(Normal(r, 0.62, 0.08), 0.4, 0.9);
                var h = Math.Clamp(Normal(r, 1.75, 0.1), 1.45, 2.0);
                var x = Uniform(r, 4, 45);
                var y = r.NextDouble() < 0.25 ? Uniform(r, -roadHalf, roadHalf) : (r.NextDouble() < 0.5 ? -1 : 1) * (roadHalf + Uniform(r, 1.8, 4.5));
                var yaw = Uniform(r, -Math.PI, Math.PI);
                if (!Free(x, y, l, w, yaw, 0.3)) continue;
                AddObject("Pedestrian", x, y, l, w, h, yaw);
                break;
            }
        }
        // Cyclists near the road edge, riding with the traffic.
        var cyclists = r.Next(0, 3);
        for (var k = 0; k < cyclists; k++)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var l = Math.Clamp(Normal(r, 1.76, 0.1), 1.5, 2.0);
                var w = Math.Clamp(Normal(r, 0.6, 0.05), 0.45, 0.8);
                var h = Math.Clamp(Normal(r, 1.73, 0.08), 1.5, 1.95);
                var x = Uniform(r, 4, 45);
                var y = (r.NextDouble() < 0.5 ? -1 : 1) * (roadHalf - Uniform(r, 0.5, 1.5));
                var yaw = Heading(0, 0.3);
                if (!Free(x, y, l, w, yaw, 0.4)) continue;
                AddObject("Cyclist", x, y, l, w, h, yaw);
                break;
            }
        }
        // Clutter: facades, poles, vegetation. Never labelled, but they occlude and return points.
        foreach (var side in new[] { -1, 1 })
        {
            if (r.NextDouble() < 0.7)
            {
                var y = side * (roadHalf + Uniform(r, 6, 11));
                for (var x = Uniform(r, -5, 5); x < 80; x += Uniform(r, 12, 35))
                {
                    var length = Uniform(r, 8, 30);
                    if (Free(x + length / 2, y, length, 0.6, 0, 0.2))
                        AddClutter(x + length / 2, y, length, 0.6, Uniform(r, 3, 12), Normal(r, 0, 0.02), Material.Wall, (float)Uniform(r, 0.15, 0.6));
                    x += length;
                }
            }
            var poles = r.Next(1, 5);
            for (var k = 0; k < poles; k++)
            {
                var x = Uniform(r, 4, 60);
                var y = side * (roadHalf + Uniform(r, 0.3, 0.8));
                if (Free(x, y, 0.25, 0.25, 0, 0.1)) AddClutter(x, y, 0.25, 0.25, Uniform(r, 3, 7), 0, Material.Pole, (float)Uniform(r, 0.3, 0.8));
            }
            var bushes = r.Next(1, 5);
            for (var k = 0; k < bushes; k++)
            {
                var x = Uniform(r, 3, 60);
                var y = side * (roadHalf + Uniform(r, 4, 7));
                var size = Uniform(r, 1, 3);
                var yaw = Uniform(r, -Math.PI, Math.PI);
                if (Free(x, y, size, size * Uniform(r, 0.5, 1), yaw, 0.1))
                    AddClutter(x, y, size, size * 0.8, Uniform(r, 0.5, 2.5), yaw, Material.Vegetation, (float)Uniform(r, 0.05, 0.35));
            }
        }
        return (objects, solids);
    }

    private static (double L, double W, double H) CarSize(Random r) =>
        (Math.Clamp(Normal(r, 3.9, 0.35), 3.2, 4.9), Math.Clamp(Normal(r, 1.62, 0.08), 1.4, 1.9), Math.Clamp(Normal(r, 1.52, 0.1), 1.3, 1.85));

    // ---- the sensor ----

    private sealed record CastResult(float[] Points, int[] FirstHits, int[] Crossings, int Rays);

    /// <summary>
    /// Ray casting column by column. Each solid is tested only against the azimuth columns its footprint
    /// spans (analytic slab intersection in the box's own frame), so the cost is rays × solids-per-column,
    /// not rays × solids. Range noise (σ 2 cm, more in foliage), dropouts (more with range and for dark
    /// surfaces) and reflectance (material × incidence cosine) follow.
    /// </summary>
    private static CastResult CastRays(List<Solid> solids, int objectCount, Random r)
    {
        var columns = (int)Math.Round(2 * AzimuthHalfWidthDeg / AzimuthStepDeg);
        var rays = columns * Beams;
        var azimuth0 = -AzimuthHalfWidthDeg * Math.PI / 180;
        var azStep = AzimuthStepDeg * Math.PI / 180;
        Span<double> cosEl = stackalloc double[Beams];
        Span<double> sinEl = stackalloc double[Beams];
        for (var b = 0; b < Beams; b++)
        {
            var el = (ElevationTopDeg + (ElevationBottomDeg - ElevationTopDeg) * b / (Beams - 1)) * Math.PI / 180;
            cosEl[b] = Math.Cos(el);
            sinEl[b] = Math.Sin(el);
        }
        var cosAz = new double[columns];
        var sinAz = new double[columns];
        for (var c = 0; c < columns; c++)
        {
            cosAz[c] = Math.Cos(azimuth0 + (c + 0.5) * azStep);
            sinAz[c] = Math.Sin(azimuth0 + (c + 0.5) * azStep);
        }

        // Nearest hit per ray: range, what was hit (-1 ground, else solid index), cosine of incidence.
        var range = new double[rays];
        var hit = new int[rays];
        var incidence = new double[rays];
        for (var c = 0; c < columns; c++)
        for (var b = 0; b < Beams; b++)
        {
            var i = c * Beams + b;
            var tGround = sinEl[b] < 0 ? SensorHeight / -sinEl[b] : double.PositiveInfinity;
            range[i] = tGround <= MaxRange ? tGround : double.PositiveInfinity;
            hit[i] = -1;
            incidence[i] = -sinEl[b];
        }

        var crossings = new int[objectCount];
        var lastOwnerCrossing = new int[rays];
        Array.Fill(lastOwnerCrossing, -1);
        for (var s = 0; s < solids.Count; s++)
        {
            var solid = solids[s];
            if (!ColumnSpan(solid, azimuth0, azStep, columns, out var c0, out var c1)) continue;
            double cy = Math.Cos(solid.Yaw), sy = Math.Sin(solid.Yaw);
            // Sensor origin in the solid's frame.
            double ox = -(cy * solid.Cx + sy * solid.Cy), oy = -(-sy * solid.Cx + cy * solid.Cy);
            for (var c = c0; c <= c1; c++)
            {
                // Horizontal direction in the solid's frame; the beams of a column share it, scaled by cos(elevation).
                double hx = cy * cosAz[c] + sy * sinAz[c], hy = -sy * cosAz[c] + cy * sinAz[c];
                // Slabs in x and y do not depend on elevation except through the scale 1/cos(el).
                if (!Slab(ox, hx, solid.HalfL, out var txNear, out var txFar)) continue;
                if (!Slab(oy, hy, solid.HalfW, out var tyNear, out var tyFar)) continue;
                var hNear = Math.Max(txNear, tyNear);
                var hFar = Math.Min(txFar, tyFar);
                if (hNear > hFar || hFar <= 0) continue;
                var sideIsX = txNear >= tyNear;
                for (var b = 0; b < Beams; b++)
                {
                    // Along the ray t, horizontal distance is t·cos(el) and height is t·sin(el).
                    double tNear = hNear / cosEl[b], tFar = hFar / cosEl[b];
                    var dz = sinEl[b];
                    double tzNear, tzFar;
                    if (Math.Abs(dz) < 1e-12)
                    {
                        if (0 < solid.ZBottom || 0 > solid.ZTop) continue;
                        tzNear = double.NegativeInfinity; tzFar = double.PositiveInfinity;
                    }
                    else
                    {
                        var t1 = solid.ZBottom / dz;
                        var t2 = solid.ZTop / dz;
                        tzNear = Math.Min(t1, t2); tzFar = Math.Max(t1, t2);
                    }
                    var enter = Math.Max(tNear, tzNear);
                    var exit = Math.Min(tFar, tzFar);
                    if (enter > exit || enter <= 0 || enter > MaxRange) continue;
                    var i = c * Beams + b;
                    if (solid.Owner >= 0 && lastOwnerCrossing[i] != solid.Owner)
                    {
                        lastOwnerCrossing[i] = solid.Owner;
                        crossings[solid.Owner]++;
                    }
                    if (enter < range[i])
                    {
                        range[i] = enter;
                        hit[i] = s;
                        // Incidence: the face entered (a vertical side, or the top/bottom).
                        incidence[i] = tzNear >= tNear ? Math.Abs(dz)
                            : (sideIsX ? Math.Abs(hx) : Math.Abs(hy)) * cosEl[b];
                    }
                }
            }
        }

        var firstHits = new int[objectCount];
        var points = new List<float>(rays * 3);
        for (var c = 0; c < columns; c++)
        for (var b = 0; b < Beams; b++)
        {
            var i = c * Beams + b;
            var t = range[i];
            if (double.IsInfinity(t)) continue;
            var material = hit[i] < 0 ? Material.Ground : solids[hit[i]].Material;
            // Asphalt is dark (about 0.1), with patches varying slowly along the range.
            var baseReflectance = hit[i] < 0 ? 0.12 + 0.05 * Math.Sin(0.7 * t) : solids[hit[i]].Reflectance;
            // Dropouts: more with range and on dark or grazing surfaces (no return).
            var dropout = 0.02 + 0.08 * t / MaxRange + (baseReflectance * incidence[i] < 0.02 ? 0.3 : 0);
            // Visibility counts the ray whether or not the sensor then drops its return.
            if (hit[i] >= 0 && solids[hit[i]].Owner >= 0) firstHits[solids[hit[i]].Owner]++;
            var u = r.NextDouble();
            var noiseStd = material == Material.Vegetation ? 0.08 : 0.02;
            var noisy = t + noiseStd * Normal(r, 0, 1);
            if (u < dropout) continue;
            var reflectance = Math.Clamp(baseReflectance * (0.35 + 0.65 * incidence[i]) + 0.02 * Normal(r, 0, 1), 0, 1);
            points.Add((float)(noisy * cosEl[b] * cosAz[c]));
            points.Add((float)(noisy * cosEl[b] * sinAz[c]));
            points.Add((float)(noisy * sinEl[b]));
            points.Add((float)reflectance);
        }
        return new CastResult(points.ToArray(), firstHits, crossings, rays);
    }

    // Entry and exit of a 1D slab [-half, half] along origin o + t·d.
    private static bool Slab(double o, double d, double half, out double tNear, out double tFar)
    {
        if (Math.Abs(d) < 1e-12)
        {
            tNear = double.NegativeInfinity; tFar = double.PositiveInfinity;
            return o >= -half && o <= half;
        }
        var t1 = (-half - o) / d;
        var t2 = (half - o) / d;
        tNear = Math.Min(t1, t2); tFar = Math.Max(t1, t2);
        return true;
    }

    // The azimuth columns a solid's footprint covers (false when it is behind or outside the cast sector).
    private static bool ColumnSpan(Solid s, double azimuth0, double azStep, int columns, out int c0, out int c1)
    {
        double c = Math.Cos(s.Yaw), sn = Math.Sin(s.Yaw);
        double min = double.MaxValue, max = double.MinValue;
        for (var k = 0; k < 4; k++)
        {
            var dx = (k & 1) == 0 ? s.HalfL : -s.HalfL;
            var dy = (k & 2) == 0 ? s.HalfW : -s.HalfW;
            var x = s.Cx + c * dx - sn * dy;
            var y = s.Cy + sn * dx + c * dy;
            if (x <= 0.05) { min = Math.Min(min, y >= 0 ? Math.PI / 2 : -Math.PI / 2); max = Math.Max(max, y >= 0 ? Math.PI / 2 : -Math.PI / 2); continue; }
            var a = Math.Atan2(y, x);
            min = Math.Min(min, a); max = Math.Max(max, a);
        }
        c0 = Math.Max(0, (int)Math.Floor((min - azimuth0) / azStep) - 1);
        c1 = Math.Min(columns - 1, (int)Math.Ceiling((max - azimuth0) / azStep) + 1);
        return c0 <= c1;
    }

    // ---- labels ----

    /// <summary>
    /// label_2 records of the objects the camera sees. Occlusion from the share of an object's rays that hit it
    /// first (0: ≥ 80 %, 1: ≥ 40 %, 2: less); objects that are too far (beyond 70 m) or hit by fewer than 5 rays
    /// become DontCare regions, as the KITTI annotators marked objects they could not label.
    /// </summary>
    private static List<KittiObject> Label(List<SceneObject> objects, int[] firstHits, int[] crossings)
    {
        var geometry = new KittiGeometry(Calibration);
        var labels = new List<KittiObject>();
        for (var k = 0; k < objects.Count; k++)
        {
            var (type, box) = objects[k];
            var camera = geometry.LidarToCamera(box, type, ImageWidth, ImageHeight);
            geometry.ProjectBox(camera.X, camera.Y, camera.Z, camera.Height, camera.Width, camera.Length, camera.RotationY, ImageWidth, ImageHeight, out var truncation);
            if (camera.Z <= 0.5 || camera.Right - camera.Left < 1 || camera.Bottom - camera.Top < 1 || truncation > 0.95) continue;
            var distance = Math.Sqrt(box.X * box.X + box.Y * box.Y);
            if (distance > 70 || firstHits[k] < 5)
            {
                labels.Add(new KittiObject("DontCare", -1, -1, -10, camera.Left, camera.Top, camera.Right, camera.Bottom, -1, -1, -1, -1000, -1000, -1000, -10));
                continue;
            }
            var visible = crossings[k] == 0 ? 0 : (double)firstHits[k] / crossings[k];
            var occluded = visible >= 0.8 ? 0 : visible >= 0.4 ? 1 : 2;
            labels.Add(camera with { Truncated = Math.Round(truncation, 2), Occluded = occluded, Score = 1 });
        }
        return labels;
    }

    private static double Uniform(Random r, double lo, double hi) => lo + (hi - lo) * r.NextDouble();

    private static double Normal(Random r, double mean, double std)
    {
        // Box–Muller.
        var u1 = 1.0 - r.NextDouble();
        var u2 = r.NextDouble();
        return mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
