using TorchSharp;
using static TorchSharp.torch;
using Platform.Plugins.Models.CenterPoint;

namespace Platform.Plugins.Models.CenterPoint.Tests;

public class VoxelizationTests
{
    // Range x [0, 5.12), y [-2.56, 2.56) at 0.32 m: a 16 x 16 grid; pillar (row, col) holds x in [0.32 col, ...), y in [-2.56 + 0.32 row, ...).
    private static readonly BevGrid Grid = new([0f, -2.56f, -3f, 5.12f, 2.56f, 1f], 0.32, 2);

    private static PillarVoxelizer Voxelizer(int maxPoints = 8, int maxPillars = 100, Voxelization where = Voxelization.Device) =>
        new(new PillarEncoderOptions { PillarSize = 0.32, MaxPointsPerPillar = maxPoints, MaxPillars = maxPillars, Voxelization = where }, Grid);

    // Three points in pillar (row 8, col 0), one in (row 8, col 2), two in (row 0, col 15), one beyond x max, one below z min.
    private static readonly float[] Cloud =
    [
        0.10f, 0.05f, 0f, 1f,
        4.90f, -2.50f, 0f, 2f,
        0.20f, 0.10f, -1f, 3f,
        0.70f, 0.20f, 0f, 4f,
        6.00f, 0.00f, 0f, 5f,     // x out of range
        0.30f, 0.30f, 0.5f, 6f,
        5.00f, -2.40f, 0f, 7f,
        0.10f, 0.10f, -4f, 8f,    // z out of range
    ];

    // The known answers below hold for both places of binning; Voxelize([cloud]) with batch index 0 is VoxelizeOne's frame.
    private static Pillars One(Voxelization where, float[] cloud, int batchIndex, int maxPoints = 8, int maxPillars = 100) =>
        where == Voxelization.Host
            ? Voxelizer(maxPoints, maxPillars, where).VoxelizeOnHost([.. Enumerable.Repeat(Array.Empty<float>(), batchIndex), cloud], 4, CPU)
            : Voxelizer(maxPoints, maxPillars, where).VoxelizeOne(cloud, 4, batchIndex);

    [TestCase(Voxelization.Device)]
    [TestCase(Voxelization.Host)]
    public void Points_are_binned_into_pillars_with_the_expected_counts_and_grid_cells(Voxelization where)
    {
        var pillars = One(where, Cloud, batchIndex: 1);

        // Grid order (row * 16 + col): (0,15) = 15, (8,0) = 128, (8,2) = 130.
        Assert.That(pillars.Counts.data<long>().ToArray(), Is.EqualTo(new long[] { 2, 3, 1 }));
        Assert.That(pillars.Coords.data<long>().ToArray(), Is.EqualTo(new long[] { 1, 0, 15, 1, 8, 0, 1, 8, 2 }));
        Assert.That(pillars.Points.shape, Is.EqualTo(new long[] { 3, 8, 4 }));
        // Points keep their input order inside a pillar; empty slots are zero.
        var reflectance = pillars.Points[.., .., 3].data<float>().ToArray();
        Assert.That(reflectance[8..11], Is.EqualTo(new[] { 1f, 3f, 6f }));
        Assert.That(reflectance[0..3], Is.EqualTo(new[] { 2f, 7f, 0f }));
        Assert.That(reflectance[16..18], Is.EqualTo(new[] { 4f, 0f }));
    }

    [TestCase(Voxelization.Device)]
    [TestCase(Voxelization.Host)]
    public void Caps_keep_each_pillars_first_points_and_the_most_populated_pillars(Voxelization where)
    {
        var pillars = One(where, Cloud, batchIndex: 0, maxPoints: 2, maxPillars: 2);

        // Pillar (8,2) with one point is dropped; (8,0) keeps its first two of three points.
        Assert.That(pillars.Coords.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 0, 15, 0, 8, 0 }));
        Assert.That(pillars.Counts.data<long>().ToArray(), Is.EqualTo(new long[] { 2, 2 }));
        Assert.That(pillars.Points[1, .., 3].data<float>().ToArray(), Is.EqualTo(new[] { 1f, 3f }));
    }

    [TestCase(Voxelization.Device)]
    [TestCase(Voxelization.Host)]
    public void A_batch_concatenates_frames_with_their_batch_index(Voxelization where)
    {
        var pillars = Voxelizer(where: where).Voxelize([Cloud, Cloud[..4]], 4);

        Assert.That(pillars.Counts.data<long>().ToArray(), Is.EqualTo(new long[] { 2, 3, 1, 1 }));
        Assert.That(pillars.Coords[3].data<long>().ToArray(), Is.EqualTo(new long[] { 1, 8, 0 }));
    }

    [TestCase(Voxelization.Device)]
    [TestCase(Voxelization.Host)]
    public void An_empty_cloud_gives_no_pillars(Voxelization where)
    {
        var pillars = One(where, [], 0);
        Assert.That(pillars.Points.shape, Is.EqualTo(new long[] { 0, 8, 4 }));
        Assert.That(pillars.Coords.shape, Is.EqualTo(new long[] { 0, 3 }));
    }

    /// <summary>
    /// Binning on the host gives the tensor path's pillars bit for bit: random batches with points on cell edges and range
    /// bounds, outside the range, non-finite, both caps exceeded, 3 to 5 features per point.
    /// </summary>
    [TestCase(3, 32, 1000)]
    [TestCase(4, 4, 40)]
    [TestCase(5, 2, 7)]
    public void Binning_on_the_host_gives_the_tensor_paths_pillars(int features, int maxPoints, int maxPillars)
    {
        var random = new Random(features * 100 + maxPoints);
        for (var trial = 0; trial < 20; trial++)
        {
            var clouds = Enumerable.Range(0, 3).Select(_ => RandomCloud(random, features, random.Next(0, 400))).ToArray();
            var onHost = Voxelizer(maxPoints, maxPillars, Voxelization.Host).Voxelize(clouds, features);
            var withTensors = Voxelizer(maxPoints, maxPillars, Voxelization.Device).Voxelize(clouds, features);
            Assert.That(onHost.Counts.data<long>().ToArray(), Is.EqualTo(withTensors.Counts.data<long>().ToArray()), $"trial {trial}: counts");
            Assert.That(onHost.Coords.data<long>().ToArray(), Is.EqualTo(withTensors.Coords.data<long>().ToArray()), $"trial {trial}: coords");
            Assert.That(onHost.Points.shape, Is.EqualTo(withTensors.Points.shape), $"trial {trial}: shape");
            Assert.That(onHost.Points.data<float>().ToArray(), Is.EqualTo(withTensors.Points.data<float>().ToArray()), $"trial {trial}: points");
        }
    }

    private static float[] RandomCloud(Random random, int features, int count)
    {
        var cloud = new float[count * features];
        for (var i = 0; i < count; i++)
        {
            // Mostly inside a few crowded cells; some exactly on a cell edge or a range bound, some outside, a few non-finite.
            var kind = random.Next(10);
            float Coordinate(float low, float high) => kind switch
            {
                0 => low + 0.32f * random.Next(0, 17),                     // cell edges, the upper bound (excluded) among them
                1 => low - 1f + (high - low + 2f) * random.NextSingle(),   // may fall outside
                _ => low + 0.32f * random.Next(0, 4) + 0.3f * random.NextSingle(),
            };
            cloud[i * features] = Coordinate(0f, 5.12f);
            cloud[i * features + 1] = Coordinate(-2.56f, 2.56f);
            cloud[i * features + 2] = kind == 9 ? float.NaN : -3f + 4f * random.NextSingle();
            for (var f = 3; f < features; f++) cloud[i * features + f] = random.NextSingle() + f;
        }
        return cloud;
    }

    /// <summary>The GPU path (issue 13): the same tensor code on cuda gives the CPU's pillars; checked where cuda exists.</summary>
    [Test]
    public void On_cuda_the_voxelizer_gives_the_cpu_pillars_on_the_device()
    {
        if (!cuda.is_available()) Assert.Ignore("No CUDA device here; the CPU path is covered by the tests above.");
        var voxelizer = Voxelizer(maxPoints: 2, maxPillars: 2);
        var onCpu = voxelizer.Voxelize([Cloud, Cloud[..4]], 4);
        var onCuda = voxelizer.Voxelize([Cloud, Cloud[..4]], 4, CUDA);
        var fromHost = Voxelizer(maxPoints: 2, maxPillars: 2, where: Voxelization.Host).Voxelize([Cloud, Cloud[..4]], 4, CUDA);
        Assert.That(fromHost.Points.device_type, Is.EqualTo(DeviceType.CUDA));
        Assert.That(fromHost.Points.cpu().equal(onCpu.Points).all().item<bool>(), Is.True);
        Assert.That(onCuda.Points.device_type, Is.EqualTo(DeviceType.CUDA));
        Assert.That(onCuda.Points.cpu().equal(onCpu.Points).all().item<bool>(), Is.True);
        Assert.That(onCuda.Counts.cpu().equal(onCpu.Counts).all().item<bool>(), Is.True);
        Assert.That(onCuda.Coords.cpu().equal(onCpu.Coords).all().item<bool>(), Is.True);
    }
}

public class PillarScatterTests
{
    [Test]
    public void Each_pillar_feature_lands_on_its_own_cell_of_the_pseudo_image()
    {
        TorchSharp.torch.manual_seed(0);
        var options = new PillarEncoderOptions { PillarSize = 0.32, MaxPointsPerPillar = 4, MaxPillars = 10, Channels = 8 };
        var grid = new BevGrid([0f, -2.56f, -3f, 5.12f, 2.56f, 1f], 0.32, 2);
        using var net = new PillarFeatureNet(options, grid, 0.1, new LayerUse());
        net.eval();
        // Frame 0: one pillar at (row 8, col 0); frame 1: one pillar at (row 0, col 15).
        var pillars = new PillarVoxelizer(options, grid).Voxelize([[0.1f, 0.05f, 0f, 1f], [4.9f, -2.5f, 0f, 2f]], 4);
        using var _ = TorchSharp.torch.no_grad();
        var image = net.forward(pillars, batchSize: 2);

        Assert.That(image.shape, Is.EqualTo(new long[] { 2, 8, 16, 16 }));
        var occupied = (image.abs().sum(1) > 0).nonzero().data<long>().ToArray();   // (batch, row, col) of non-empty cells
        Assert.That(occupied, Is.EqualTo(new long[] { 0, 8, 0, 1, 0, 15 }));
    }
}
