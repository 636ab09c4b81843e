using Platform.Plugins.Models.PointNet;
using static TorchSharp.torch;

namespace Platform.Models.PointNet.Tests;

public class PointCloudOpsTests
{
    [Test]
    public void Farthest_point_sampling_starts_at_point_zero_then_takes_the_farthest_from_the_picked_set()
    {
        // From (0,0,0) the farthest is (10,0,0); then the point farthest from both is (0,5,0) (25 vs 1 and 2).
        using var xyz = tensor(new float[] { 0, 0, 0, 1, 0, 0, 10, 0, 0, 0, 5, 0, 9, 1, 0 }, new long[] { 1, 5, 3 });
        using var picked = PointCloudOps.FarthestPointSample(xyz, 3);
        Assert.That(picked.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 2, 3 }));
    }

    [Test]
    public void Farthest_point_sampling_works_per_cloud_in_a_batch()
    {
        // Second cloud: the far point is index 1.
        using var xyz = tensor(new float[] { 0, 0, 0, 1, 0, 0, 3, 0, 0, /* */ 0, 0, 0, 7, 0, 0, 1, 0, 0 }, new long[] { 2, 3, 3 });
        using var picked = PointCloudOps.FarthestPointSample(xyz, 2);
        Assert.That(picked.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 2, 0, 1 }));
    }

    [Test]
    public void Ball_query_returns_the_neighbours_within_the_radius_padded_with_the_first()
    {
        // Points on the x axis at 0, 1, 2, 3, 10; balls of radius 1.5 around x=0 and x=3.
        using var xyz = tensor(new float[] { 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 10, 0, 0 }, new long[] { 1, 5, 3 });
        using var centroids = tensor(new float[] { 0, 0, 0, 3, 0, 0 }, new long[] { 1, 2, 3 });
        using var groups = PointCloudOps.BallQuery(xyz, centroids, 1.5, 4);
        Assert.That(groups.shape, Is.EqualTo(new long[] { 1, 2, 4 }));
        Assert.That(groups.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 0, 0, 2, 3, 2, 2 }));
    }

    [Test]
    public void Ball_query_keeps_the_first_neighbours_in_index_order_when_the_ball_is_full()
    {
        using var xyz = tensor(new float[] { 0, 0, 0, 0.1f, 0, 0, 0.2f, 0, 0, 0.3f, 0, 0 }, new long[] { 1, 4, 3 });
        using var centroids = tensor(new float[] { 0.3f, 0, 0 }, new long[] { 1, 1, 3 });
        using var groups = PointCloudOps.BallQuery(xyz, centroids, 1.0, 2);
        Assert.That(groups.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1 }));
    }

    [Test]
    public void Gather_picks_rows_per_cloud()
    {
        using var points = tensor(new float[] { 0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15 }, new long[] { 2, 3, 2 });
        using var index = tensor(new long[] { 2, 0, 1, 1 }, new long[] { 2, 2 });
        using var gathered = PointCloudOps.Gather(points, index);
        Assert.That(gathered.data<float>().ToArray(), Is.EqualTo(new float[] { 4, 5, 0, 1, 12, 13, 12, 13 }));
    }
}
