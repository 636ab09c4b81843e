using Platform.Abstractions.Data;

namespace Platform.Plugins.Sparsify.Points.Tests;

public class GroundRemovalTests
{
    // The true ground: z = 0.05 x + 0.03 y - 1.7, a 3.3 degree tilt; normal (-0.05, -0.03, 1) unnormalised.
    private const float Gx = 0.05f, Gy = 0.03f, G0 = -1.7f;
    private const int GroundPoints = 3000, Outliers = 900;

    /// <summary>Ground points within +-3 cm of the plane (tag 0), and objects 0.5-3 m above it or floating noise (tag 1).</summary>
    private static Sample TiltedGroundWithOutliers(int seed = 11)
    {
        var rng = new Random(seed);
        var rows = new List<(float, float, float, float)>();
        for (var i = 0; i < GroundPoints; i++)
        {
            float x = (float)(rng.NextDouble() * 60 - 10), y = (float)(rng.NextDouble() * 40 - 20);
            rows.Add((x, y, Gx * x + Gy * y + G0 + (float)(rng.NextDouble() * 0.06 - 0.03), 0));
        }
        for (var i = 0; i < Outliers; i++)
        {
            float x = (float)(rng.NextDouble() * 60 - 10), y = (float)(rng.NextDouble() * 40 - 20);
            // Vertical box faces (a car's side), so outliers also form planes, just not the largest one.
            var height = (float)(0.5 + rng.NextDouble() * 2.5);
            if (i % 2 == 0) { x = 8f; y /= 4; }
            rows.Add((x, y, Gx * x + Gy * y + G0 + height, 1));
        }
        return Clouds.Of([.. rows]);
    }

    [TestCase(8192)] // the default: every point scores, the cloud is smaller
    [TestCase(500)]  // candidates scored on a 500-point subset
    [TestCase(0)]    // 0 = score on every point
    public void The_plane_found_on_a_tilted_ground_with_outliers_is_within_half_a_degree_of_the_truth(int scoringPoints)
    {
        var sample = TiltedGroundWithOutliers();
        var plane = new GroundRemoval(new GroundRemovalOptions { DistanceThreshold = 0.1f, Iterations = 100, ScoringPoints = scoringPoints })
            .FitGroundPlane(sample.Points, sample.PointFeatures, seed: 3);

        Assert.That(plane, Is.Not.Null);
        Assert.That(plane!.Value.AngleToDegrees(-Gx, -Gy, 1), Is.LessThan(0.5));
        Assert.That(plane.Value.NormalZ, Is.GreaterThan(0));
        // The plane passes through (0, 0, -1.7): its distance from there is ~0.
        Assert.That(plane.Value.Distance(0, 0, G0), Is.LessThan(0.02));
        Assert.That(plane.Value.Inliers, Is.EqualTo(GroundPoints));
    }

    [Test]
    public void Without_refit_the_best_three_point_plane_is_still_within_two_degrees()
    {
        var sample = TiltedGroundWithOutliers();
        var plane = new GroundRemoval(new GroundRemovalOptions { DistanceThreshold = 0.1f, Iterations = 200, Refine = false })
            .FitGroundPlane(sample.Points, sample.PointFeatures, seed: 3);

        Assert.That(plane!.Value.AngleToDegrees(-Gx, -Gy, 1), Is.LessThan(2.0));
    }

    [Test]
    public void Removal_drops_the_ground_inliers_and_keeps_every_object_point_with_its_features()
    {
        var sample = TiltedGroundWithOutliers();
        var result = new GroundRemoval(new GroundRemovalOptions { DistanceThreshold = 0.2f }).Apply(sample, 9);

        Assert.That(result.PointCount, Is.EqualTo(Outliers));
        Assert.That(Clouds.Tags(result), Is.All.EqualTo(1f));
    }

    [Test]
    public void The_slope_limit_rejects_a_wall_with_more_points_than_the_ground()
    {
        // 2000 points on the wall x = 5 (from 0.5 m above the ground up), only 1000 on the flat ground z = -1.7.
        var rng = new Random(1);
        var rows = new List<(float, float, float, float)>();
        for (var i = 0; i < 2000; i++) rows.Add((5f, (float)(rng.NextDouble() * 20 - 10), (float)(rng.NextDouble() * 10 - 1.2), 1));
        for (var i = 0; i < 1000; i++) rows.Add(((float)(rng.NextDouble() * 4 - 10), (float)(rng.NextDouble() * 20 - 10), -1.7f, 0));
        var sample = Clouds.Of([.. rows]);

        var limited = new GroundRemoval(new GroundRemovalOptions { MaxSlopeDegrees = 20f }).FitGroundPlane(sample.Points, 4, 0);
        var unlimited = new GroundRemoval(new GroundRemovalOptions { MaxSlopeDegrees = 90f }).FitGroundPlane(sample.Points, 4, 0);

        Assert.That(limited!.Value.AngleToDegrees(0, 0, 1), Is.LessThan(0.1));
        Assert.That(unlimited!.Value.AngleToDegrees(1, 0, 0), Is.LessThan(0.1));
    }

    [Test]
    public void The_same_seed_finds_the_same_plane()
    {
        var sample = TiltedGroundWithOutliers();
        var removal = new GroundRemoval(new GroundRemovalOptions { Refine = false, Iterations = 20 });

        Assert.That(removal.FitGroundPlane(sample.Points, 4, 77), Is.EqualTo(removal.FitGroundPlane(sample.Points, 4, 77)));
    }

    [Test]
    public void The_jacobi_eigensolver_finds_the_known_eigenpairs_of_a_symmetric_matrix()
    {
        // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 1, 3, 5; the eigenvector of 1 is (1, -1, 0) / sqrt(2).
        var (values, vectors) = GroundRemoval.SymmetricEigen3(new double[,] { { 2, 1, 0 }, { 1, 2, 0 }, { 0, 0, 5 } });

        Assert.That(values.Order().ToArray(), Is.EqualTo(new[] { 1.0, 3.0, 5.0 }).Within(1e-12));
        var smallest = Array.IndexOf(values, values.Min());
        var v = new[] { vectors[0, smallest], vectors[1, smallest], vectors[2, smallest] };
        Assert.That(Math.Abs(v[0]), Is.EqualTo(1 / Math.Sqrt(2)).Within(1e-12));
        Assert.That(v[1], Is.EqualTo(-v[0]).Within(1e-12));
        Assert.That(v[2], Is.EqualTo(0).Within(1e-12));
    }

    [Test]
    public void A_cloud_too_small_for_a_plane_is_left_unchanged()
    {
        var sample = Clouds.Of((0f, 0f, 0f, 1), (1f, 0f, 0f, 2));
        Assert.That(new GroundRemoval(new GroundRemovalOptions()).Apply(sample, 0), Is.SameAs(sample));
    }

    [Test]
    public void A_non_positive_threshold_is_refused_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(() => new GroundRemoval(new GroundRemovalOptions { DistanceThreshold = -0.1f }));
        Assert.That(error!.Message, Does.Contain("DistanceThreshold").And.Contain("ground-removal"));
    }

    [Test]
    public void Zero_iterations_are_refused_naming_the_option()
    {
        var error = Assert.Throws<ArgumentException>(() => new GroundRemoval(new GroundRemovalOptions { Iterations = 0 }));
        Assert.That(error!.Message, Does.Contain("Iterations"));
    }
}
