using System.Globalization;
using System.Text;
using Platform.Abstractions.Kit;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>Bad KITTI input: the message names the file (and line) and what is wrong with it.</summary>
public sealed class KittiFormatException(string message) : Exception(message);

/// <summary>
/// One line of a KITTI <c>label_2</c> file (devkit readme, "object development kit"): type, truncation,
/// occlusion, observation angle alpha, 2D box in the left colour image, dimensions h w l (m), location of
/// the bottom centre in rectified camera coordinates (m), rotation_y about the camera Y axis, and in
/// result files a 16th field, the score.
/// </summary>
public sealed record KittiObject(
    string Type,
    double Truncated,
    int Occluded,
    double Alpha,
    double Left, double Top, double Right, double Bottom,
    double Height, double Width, double Length,
    double X, double Y, double Z,
    double RotationY,
    double Score = 1)
{
    public double BoxHeight2D => Bottom - Top;

    public bool IsDontCare => Type == "DontCare";
}

/// <summary>
/// A KITTI calibration file: projection matrices P0..P3 (3x4, rectified camera i), the rectifying rotation
/// R0_rect (3x3) and the rigid transforms Tr_velo_to_cam, Tr_imu_to_velo (3x4). Row-major doubles.
/// </summary>
public sealed record KittiCalibration(
    double[] P0, double[] P1, double[] P2, double[] P3,
    double[] R0Rect, double[] VeloToCam, double[] ImuToVelo)
{
    /// <summary>The matrices the reader cannot do without; the others default to what KITTI ships when absent.</summary>
    public static readonly string[] RequiredKeys = ["P2", "R0_rect", "Tr_velo_to_cam"];
}

/// <summary>The full annotation of one frame, carried in <c>Sample.Annotation</c> for the evaluator.</summary>
public sealed record KittiFrameAnnotation(string FrameId, IReadOnlyList<KittiObject> Objects, KittiCalibration Calibration);

/// <summary>Reads and writes the files of the KITTI object layout.</summary>
public static class KittiFiles
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly string[] LabelFields =
        ["type", "truncated", "occluded", "alpha", "left", "top", "right", "bottom", "height", "width", "length", "x", "y", "z", "rotation_y", "score"];

    /// <summary>A velodyne scan: float32 x, y, z, reflectance per point, little-endian, no header.</summary>
    public static float[] ReadVelodyne(string path)
    {
        if (!File.Exists(path)) throw new KittiFormatException($"{path}: velodyne file is missing.");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var length = stream.Length;
        if (length % 16 != 0)
            throw new KittiFormatException($"{path}: size {length} bytes is not a multiple of 16 (4 float32 per point: x, y, z, reflectance); the file is truncated or not a KITTI velodyne scan.");
        // Straight into the float array (KITTI scans are little-endian, as is every platform .NET runs on here).
        var points = new float[length / 4];
        stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(points.AsSpan()));
        return points;
    }

    public static void WriteVelodyne(string path, ReadOnlySpan<float> points)
    {
        var bytes = new byte[points.Length * 4];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(points).CopyTo(bytes);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    public static IReadOnlyList<KittiObject> ReadLabels(string path)
    {
        if (!File.Exists(path)) throw new KittiFormatException($"{path}: label file is missing.");
        var lines = File.ReadAllLines(path);
        var objects = new List<KittiObject>(lines.Length);
        for (var n = 0; n < lines.Length; n++)
        {
            if (string.IsNullOrWhiteSpace(lines[n])) continue;
            objects.Add(ParseLabelLine(lines[n], path, n + 1));
        }
        return objects;
    }

    public static KittiObject ParseLabelLine(string line, string file, int lineNumber)
    {
        var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (f.Length is not (15 or 16))
            throw new KittiFormatException($"{file}:{lineNumber}: expected 15 fields (16 with a score), found {f.Length}: '{line.Trim()}'.");
        // Doubles, as the devkit reads them (fscanf %lf): a truncation of 0.15 must not become 0.150000006.
        double F(int i)
        {
            if (!double.TryParse(f[i], NumberStyles.Float, Inv, out var v) || !double.IsFinite(v))
                throw new KittiFormatException($"{file}:{lineNumber}: field {i + 1} ({LabelFields[i]}) is not a number: '{f[i]}'.");
            return v;
        }
        var o = new KittiObject(f[0], F(1), (int)F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9), F(10), F(11), F(12), F(13), F(14),
            f.Length == 16 ? F(15) : 1);
        // Values no scene has: a box of 1e30 m made training's heatmap drawing loop to a radius of int.MaxValue. The
        // devkit's DontCare placeholders (-1 sizes, -1000 locations) stay inside these limits.
        if (Math.Max(Math.Abs(o.Height), Math.Max(Math.Abs(o.Width), Math.Abs(o.Length))) > MaxBoxSize)
            throw new KittiFormatException($"{file}:{lineNumber}: box size (h, w, l) = ({o.Height}, {o.Width}, {o.Length}) m is beyond physical sizes (at most {MaxBoxSize} m).");
        if (Math.Max(Math.Abs(o.X), Math.Max(Math.Abs(o.Y), Math.Abs(o.Z))) > MaxLocation)
            throw new KittiFormatException($"{file}:{lineNumber}: box location ({o.X}, {o.Y}, {o.Z}) m is beyond {MaxLocation} m from the camera.");
        if (new[] { o.Left, o.Top, o.Right, o.Bottom }.Any(v => Math.Abs(v) > MaxImageCoordinate))
            throw new KittiFormatException($"{file}:{lineNumber}: 2D box ({o.Left}, {o.Top}, {o.Right}, {o.Bottom}) px is beyond {MaxImageCoordinate} px.");
        return o;
    }

    /// <summary>Largest box edge a label may have (m): a long articulated truck is under 30.</summary>
    public const double MaxBoxSize = 100;

    /// <summary>Farthest box centre from the camera a label may have (m); DontCare's placeholder is 1000.</summary>
    public const double MaxLocation = 10_000;

    /// <summary>Largest 2D box coordinate a label may have (px); KITTI images are 1242 wide.</summary>
    public const double MaxImageCoordinate = 100_000;

    /// <summary>label_2 lines in the devkit's own format (two decimals; with the score for result files).</summary>
    public static string FormatLabels(IEnumerable<KittiObject> objects, bool withScore)
    {
        var sb = new StringBuilder();
        foreach (var o in objects)
        {
            sb.Append(o.Type).Append(' ')
              .Append(o.Truncated.ToString("F2", Inv)).Append(' ')
              .Append(o.Occluded.ToString(Inv)).Append(' ');
            foreach (var v in new double[] { o.Alpha, o.Left, o.Top, o.Right, o.Bottom, o.Height, o.Width, o.Length, o.X, o.Y, o.Z, o.RotationY })
                sb.Append(v.ToString("F2", Inv)).Append(' ');
            if (withScore) sb.Append(o.Score.ToString("F4", Inv)).Append(' ');
            sb.Length--;
            sb.Append('\n');
        }
        return sb.ToString();
    }

    public static void WriteLabels(string path, IEnumerable<KittiObject> objects, bool withScore) =>
        AtomicFile.WriteAllText(path, FormatLabels(objects, withScore));

    public static KittiCalibration ReadCalibration(string path)
    {
        if (!File.Exists(path)) throw new KittiFormatException($"{path}: calibration file is missing.");
        var matrices = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var lines = File.ReadAllLines(path);
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            if (string.IsNullOrWhiteSpace(line)) continue;
            var colon = line.IndexOf(':');
            if (colon <= 0) throw new KittiFormatException($"{path}:{n + 1}: expected 'NAME: values', found '{line.Trim()}'.");
            var key = line[..colon].Trim();
            var parts = line[(colon + 1)..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var values = new double[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                if (!double.TryParse(parts[i], NumberStyles.Float, Inv, out values[i]) || !double.IsFinite(values[i]))
                    throw new KittiFormatException($"{path}:{n + 1}: value {i + 1} of {key} is not a number: '{parts[i]}'.");
            }
            var expected = key is "R0_rect" or "R_rect" ? 9 : 12;
            if (values.Length != expected)
                throw new KittiFormatException($"{path}:{n + 1}: {key} has {values.Length} values, expected {expected}.");
            matrices[key] = values;
        }
        foreach (var key in KittiCalibration.RequiredKeys)
        {
            if (!matrices.ContainsKey(key))
                throw new KittiFormatException($"{path}: calibration matrix {key} is missing (found: {string.Join(", ", matrices.Keys)}).");
        }
        double[] Get(string key) => matrices.TryGetValue(key, out var m) ? m : matrices["P2"];
        double[] identity34 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
        return new KittiCalibration(Get("P0"), Get("P1"), matrices["P2"], Get("P3"), matrices["R0_rect"], matrices["Tr_velo_to_cam"],
            matrices.TryGetValue("Tr_imu_to_velo", out var imu) ? imu : identity34);
    }

    public static string FormatCalibration(KittiCalibration c)
    {
        var sb = new StringBuilder();
        void Row(string key, double[] m) => sb.Append(key).Append(": ").AppendJoin(' ', m.Select(v => v.ToString("e12", Inv))).Append('\n');
        Row("P0", c.P0); Row("P1", c.P1); Row("P2", c.P2); Row("P3", c.P3);
        Row("R0_rect", c.R0Rect); Row("Tr_velo_to_cam", c.VeloToCam); Row("Tr_imu_to_velo", c.ImuToVelo);
        // The devkit's files end with an empty line.
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>Frame ids of an ImageSets/*.txt file, one per line.</summary>
    public static IReadOnlyList<string> ReadImageSet(string path)
    {
        if (!File.Exists(path)) throw new KittiFormatException($"{path}: image set file is missing.");
        var ids = new List<string>();
        var lines = File.ReadAllLines(path);
        for (var n = 0; n < lines.Length; n++)
        {
            var id = lines[n].Trim();
            if (id.Length == 0) continue;
            if (id.Any(c => !char.IsAsciiDigit(c)))
                throw new KittiFormatException($"{path}:{n + 1}: '{id}' is not a KITTI frame id (digits, e.g. 000123).");
            ids.Add(id);
        }
        return ids;
    }
}
