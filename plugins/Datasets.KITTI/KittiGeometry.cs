using Platform.Abstractions.Data;

namespace Platform.Plugins.Datasets.KITTI;

/// <summary>
/// The frames of a KITTI calibration (devkit readme, "Coordinate systems"): a lidar point x goes to the
/// rectified camera frame as R0_rect · Tr_velo_to_cam · x, and to the image of camera 2 as
/// P2 · R0_rect · Tr_velo_to_cam · x. Boxes in label_2 have their location at the bottom centre and
/// rotation_y about the camera's Y (down) axis; our lidar boxes (<see cref="Box3D"/>) have the geometric
/// centre and yaw about +z. The conversions are those of OpenPCDet's box_utils (yaw = -(ry + π/2)).
/// </summary>
public sealed class KittiGeometry
{
    // Lidar -> rect (3x4) and its inverse; lidar -> image of camera 2 (3x4).
    private readonly double[] _veloToRect = new double[12];
    private readonly double[] _rectToVelo = new double[12];
    private readonly double[] _veloToImage = new double[12];

    public KittiGeometry(KittiCalibration calibration)
    {
        Calibration = calibration;
        var r0 = To34(calibration.R0Rect);
        Multiply34(r0, calibration.VeloToCam, _veloToRect);
        Invert34(_veloToRect, _rectToVelo);
        Multiply34(calibration.P2, _veloToRect, _veloToImage);
    }

    public KittiCalibration Calibration { get; }

    /// <summary>P2 · R0_rect · Tr_velo_to_cam, row-major 3x4: lidar point to homogeneous pixel.</summary>
    public ReadOnlySpan<double> VeloToImage => _veloToImage;

    public (double X, double Y, double Z) LidarToRect(double x, double y, double z) => Apply(_veloToRect, x, y, z);

    public (double X, double Y, double Z) RectToLidar(double x, double y, double z) => Apply(_rectToVelo, x, y, z);

    /// <summary>Projects a rectified-camera point with P2; returns pixel u, v and depth.</summary>
    public (double U, double V, double Depth) RectToImage(double x, double y, double z)
    {
        var p = Calibration.P2;
        var u = p[0] * x + p[1] * y + p[2] * z + p[3];
        var v = p[4] * x + p[5] * y + p[6] * z + p[7];
        var w = p[8] * x + p[9] * y + p[10] * z + p[11];
        return (u / w, v / w, w);
    }

    /// <summary>A label_2 box (camera frame, bottom centre) as a lidar box (geometric centre, yaw about +z).</summary>
    public Box3D CameraToLidar(KittiObject o, int classId, float score = 1f)
    {
        var (x, y, z) = RectToLidar(o.X, o.Y, o.Z);
        return new Box3D((float)x, (float)y, (float)(z + o.Height / 2), (float)o.Length, (float)o.Width, (float)o.Height,
            (float)NormalizeAngle(-(o.RotationY + Math.PI / 2)), classId, score);
    }

    /// <summary>
    /// A lidar box as a label_2 record in the camera frame: location at the bottom centre, rotation_y,
    /// alpha (observation angle, OpenPCDet: -atan2(-y, x) + ry), and the 2D box from projecting the 8
    /// corners with P2, clipped to the image.
    /// </summary>
    public KittiObject LidarToCamera(Box3D box, string type, double imageWidth, double imageHeight)
    {
        var (cx, cy, cz) = LidarToRect(box.X, box.Y, box.Z - box.Height / 2.0);
        var ry = NormalizeAngle(-box.Yaw - Math.PI / 2);
        var alpha = NormalizeAngle(-Math.Atan2(-box.Y, box.X) + ry);
        var (left, top, right, bottom) = ProjectBox(cx, cy, cz, box.Height, box.Width, box.Length, ry, imageWidth, imageHeight, out _);
        return new KittiObject(type, 0, 0, alpha, left, top, right, bottom,
            box.Height, box.Width, box.Length, cx, cy, cz, ry, box.Score);
    }

    /// <summary>
    /// The 2D box of a camera-frame 3D box: its 8 corners projected with P2 (as the devkit's
    /// computeBox3D does), clipped to [0, W-1] x [0, H-1]. Corners behind the camera are pulled to 0.1 m depth
    /// so a box that straddles the image plane still gets a finite box. <paramref name="truncation"/> is the
    /// fraction of the unclipped 2D box's area outside the image (how the synthetic labels define truncation).
    /// </summary>
    public (double Left, double Top, double Right, double Bottom) ProjectBox(
        double x, double y, double z, double h, double w, double l, double ry, double imageWidth, double imageHeight, out double truncation)
    {
        double c = Math.Cos(ry), s = Math.Sin(ry);
        double minU = double.MaxValue, minV = double.MaxValue, maxU = double.MinValue, maxV = double.MinValue;
        var anyInFront = false;
        for (var k = 0; k < 8; k++)
        {
            var dx = (k & 1) == 0 ? l / 2 : -l / 2;
            var dz = (k & 2) == 0 ? w / 2 : -w / 2;
            var dy = (k & 4) == 0 ? 0 : -h;
            // Rotation about the camera Y axis: R = [[c, 0, s], [0, 1, 0], [-s, 0, c]] (devkit computeBox3D).
            var px = x + c * dx + s * dz;
            var py = y + dy;
            var pz = z - s * dx + c * dz;
            if (pz > 0.1) anyInFront = true;
            var (u, v, _) = RectToImage(px, py, Math.Max(pz, 0.1));
            minU = Math.Min(minU, u); maxU = Math.Max(maxU, u);
            minV = Math.Min(minV, v); maxV = Math.Max(maxV, v);
        }
        if (!anyInFront)
        {
            truncation = 1;
            return (0, 0, 0, 0);
        }
        var full = (maxU - minU) * (maxV - minV);
        double l2 = Math.Clamp(minU, 0, imageWidth - 1), r2 = Math.Clamp(maxU, 0, imageWidth - 1);
        double t2 = Math.Clamp(minV, 0, imageHeight - 1), b2 = Math.Clamp(maxV, 0, imageHeight - 1);
        truncation = full <= 0 ? 1 : Math.Clamp(1 - (r2 - l2) * (b2 - t2) / full, 0, 1);
        return (l2, t2, r2, b2);
    }

    public static double NormalizeAngle(double a)
    {
        a %= 2 * Math.PI;
        if (a > Math.PI) a -= 2 * Math.PI;
        if (a <= -Math.PI) a += 2 * Math.PI;
        return a;
    }

    private static (double, double, double) Apply(double[] m, double x, double y, double z) =>
        (m[0] * x + m[1] * y + m[2] * z + m[3],
         m[4] * x + m[5] * y + m[6] * z + m[7],
         m[8] * x + m[9] * y + m[10] * z + m[11]);

    private static double[] To34(double[] r33) => [r33[0], r33[1], r33[2], 0, r33[3], r33[4], r33[5], 0, r33[6], r33[7], r33[8], 0];

    // (a · b) for 3x4 matrices read as 4x4 with a last row [0 0 0 1].
    private static void Multiply34(double[] a, double[] b, double[] result)
    {
        for (var i = 0; i < 3; i++)
        for (var j = 0; j < 4; j++)
        {
            var sum = j == 3 ? a[i * 4 + 3] : 0;
            for (var k = 0; k < 3; k++) sum += a[i * 4 + k] * b[k * 4 + j];
            result[i * 4 + j] = sum;
        }
    }

    // Inverse of [A | t] (A any invertible 3x3): [A^-1 | -A^-1 t].
    private static void Invert34(double[] m, double[] result)
    {
        double a = m[0], b = m[1], c = m[2], d = m[4], e = m[5], f = m[6], g = m[8], h = m[9], i = m[10];
        var det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        if (Math.Abs(det) < 1e-12) throw new KittiFormatException("R0_rect · Tr_velo_to_cam is singular: the calibration is not a rigid transform.");
        double[] inv =
        [
            (e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det,
            (f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det,
            (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det,
        ];
        for (var r = 0; r < 3; r++)
        {
            result[r * 4 + 0] = inv[r * 3 + 0];
            result[r * 4 + 1] = inv[r * 3 + 1];
            result[r * 4 + 2] = inv[r * 3 + 2];
            result[r * 4 + 3] = -(inv[r * 3 + 0] * m[3] + inv[r * 3 + 1] * m[7] + inv[r * 3 + 2] * m[11]);
        }
    }
}
