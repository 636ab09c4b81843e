using Platform.Abstractions.Data;
using Platform.Plugins.Datasets.KITTI;

namespace Platform.Plugins.Datasets.KITTI.Tests;

public class GeometryTests
{
    // An idealised rig: the camera at the lidar origin, no rectification; camera x = -lidar y,
    // camera y = -lidar z, camera z = lidar x (KITTI's axes without the small mounting rotation).
    private static readonly KittiCalibration Ideal = new(
        P0: [700, 0, 600, 0, 0, 700, 180, 0, 0, 0, 1, 0], P1: [700, 0, 600, 0, 0, 700, 180, 0, 0, 0, 1, 0],
        P2: [700, 0, 600, 0, 0, 700, 180, 0, 0, 0, 1, 0], P3: [700, 0, 600, 0, 0, 700, 180, 0, 0, 0, 1, 0],
        R0Rect: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        VeloToCam: [0, -1, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0],
        ImuToVelo: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);

    [Test]
    public void A_camera_box_becomes_a_lidar_box_with_the_geometric_centre_and_yaw_minus_ry_minus_half_pi()
    {
        var g = new KittiGeometry(Ideal);
        // Bottom centre 1 m right, 2 m below the camera, 10 m ahead; 1.5 m tall; facing camera +x (ry = 0).
        var o = new KittiObject("Car", 0, 0, 0, 0, 0, 0, 0, 1.5f, 1.6f, 3.9f, 1, 2, 10, 0);
        var box = g.CameraToLidar(o, classId: 0);
        Assert.That(box.X, Is.EqualTo(10).Within(1e-5));
        Assert.That(box.Y, Is.EqualTo(-1).Within(1e-5));
        Assert.That(box.Z, Is.EqualTo(-2 + 0.75).Within(1e-5), "geometric centre is half the height above the bottom");
        Assert.That((box.Length, box.Width, box.Height), Is.EqualTo((3.9f, 1.6f, 1.5f)));
        // Camera +x is lidar -y: heading -90 degrees.
        Assert.That(box.Yaw, Is.EqualTo(-Math.PI / 2).Within(1e-6));
    }

    [Test]
    public void A_lidar_box_becomes_a_camera_record_with_the_bottom_centre_rotation_y_and_alpha()
    {
        var g = new KittiGeometry(Ideal);
        // Straight ahead at 20 m, heading along +x (yaw 0): ry = -pi/2, seen head-on so alpha = ry.
        var o = g.LidarToCamera(new Box3D(20, 0, -1, 4, 2, 1.5f, 0, 0, 0.9f), "Car", 1242, 375);
        Assert.That((o.X, o.Y, o.Z), Is.EqualTo((0f, 1.75f, 20f)).Using<(float, float, float)>((a, b) =>
            Math.Abs(a.Item1 - b.Item1) < 1e-5 && Math.Abs(a.Item2 - b.Item2) < 1e-5 && Math.Abs(a.Item3 - b.Item3) < 1e-5));
        Assert.That(o.RotationY, Is.EqualTo(-Math.PI / 2).Within(1e-6));
        Assert.That(o.Alpha, Is.EqualTo(-Math.PI / 2).Within(1e-6));
        Assert.That(o.Score, Is.EqualTo(0.9f));
        // The box's face nearest the camera is 2 m closer (length 4 along the view ray): depth 18 m,
        // half-width 1 m -> u = 600 ± 700/18, top 1.75 - 1.5 = 0.25 m -> v = 180 + 700 * 0.25 / 18 at the far face
        // (the highest point on the image is the far top edge), bottom 1.75 m at the near face: v = 180 + 700 * 1.75 / 18.
        Assert.That(o.Left, Is.EqualTo(600 - 700.0 / 18).Within(1e-3));
        Assert.That(o.Right, Is.EqualTo(600 + 700.0 / 18).Within(1e-3));
        Assert.That(o.Top, Is.EqualTo(180 + 700 * 0.25 / 22).Within(1e-3));
        Assert.That(o.Bottom, Is.EqualTo(180 + 700 * 1.75 / 18).Within(1e-3));
    }

    [Test]
    public void Lidar_to_camera_and_back_is_the_identity_with_a_real_calibration()
    {
        var g = new KittiGeometry(SyntheticKittiScenes.Calibration);
        var box = new Box3D(23.4f, -5.2f, -0.9f, 4.1f, 1.7f, 1.45f, 0.7f, 2, 0.5f);
        var back = g.CameraToLidar(g.LidarToCamera(box, "Cyclist", 1242, 375), 2, 0.5f);
        Assert.That(back.X, Is.EqualTo(box.X).Within(1e-4));
        Assert.That(back.Y, Is.EqualTo(box.Y).Within(1e-4));
        Assert.That(back.Z, Is.EqualTo(box.Z).Within(1e-4));
        Assert.That(back.Yaw, Is.EqualTo(box.Yaw).Within(1e-5));
    }

    [Test]
    public void A_point_projects_with_P2_to_pixel_f_x_over_z_plus_c()
    {
        var g = new KittiGeometry(Ideal);
        var (u, v, depth) = g.RectToImage(1, -0.5, 10);
        Assert.That((u, v, depth), Is.EqualTo((600 + 70.0, 180 - 35.0, 10.0)));
    }

    [Test]
    public void The_crops_keep_exactly_the_points_inside_the_range_and_in_front_of_the_camera_within_the_image()
    {
        var g = new KittiGeometry(Ideal);
        float[] points =
        [
            10, 0, 0, 0.1f,   // straight ahead: u = 600, v = 180 -> kept
            10, 20, 0, 0.2f,  // 20 m to the left at 10 m: u = 600 - 1400 < 0 -> outside the image
            -5, 0, 0, 0.3f,   // behind the camera (and outside x >= 0)
            10, 0, 5, 0.4f,   // above the range's zmax = 1
            30, -5, -1, 0.5f, // u = 600 + 700 * 5 / 30 = 716.7, v = 180 + 700 * 1 / 30 = 203.3 -> kept
        ];
        var kept = PointCrop.Apply((float[])points.Clone(), g, [0f, -39.68f, -3f, 69.12f, 39.68f, 1f], cropToFov: true, 1242, 375);
        Assert.That(kept, Is.EqualTo(new float[] { 10, 0, 0, 0.1f, 30, -5, -1, 0.5f }));
        var rangeOnly = PointCrop.Apply((float[])points.Clone(), g, [0f, -39.68f, -3f, 69.12f, 39.68f, 1f], cropToFov: false, 1242, 375);
        Assert.That(rangeOnly, Is.EqualTo(new float[] { 10, 0, 0, 0.1f, 10, 20, 0, 0.2f, 30, -5, -1, 0.5f }));
    }

    [Test]
    public void Points_with_a_non_finite_coordinate_or_intensity_are_dropped_by_the_range_crop()
    {
        var g = new KittiGeometry(Ideal);
        float[] points =
        [
            10, 0, 0, 0.1f,
            float.NaN, 0, 0, 0.1f,
            10, float.PositiveInfinity, 0, 0.1f,
            10, 0, float.NaN, 0.1f,
            10, 0, 0, float.NaN,
            20, 1, -1, 0.2f,
        ];
        var kept = PointCrop.Apply((float[])points.Clone(), g, [0f, -39.68f, -3f, 69.12f, 39.68f, 1f], cropToFov: false, 1242, 375);
        Assert.That(kept, Is.EqualTo(new float[] { 10, 0, 0, 0.1f, 20, 1, -1, 0.2f }));
    }
}
