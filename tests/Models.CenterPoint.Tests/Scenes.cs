using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.CenterPoint;

namespace Platform.Plugins.Models.CenterPoint.Tests;

/// <summary>Hand-made lidar frames: points on the sides and top of each box, plus a flat ground.</summary>
internal static class Scenes
{
    public const float Ground = -1.7f;
    public static readonly string[] Classes = ["Car", "Pedestrian", "Cyclist"];

    /// <summary>The tiny scenes' range: 20.48 m x 20.48 m, a 64 x 64 grid at 0.32 m pillars (32 x 32 feature map of 0.64 m cells).</summary>
    public static readonly float[] TinyRange = [0f, -10.24f, -3f, 20.48f, 10.24f, 1f];

    /// <summary>The kitti dataset's default range (its options' PointCloudRange).</summary>
    public static readonly float[] KittiRange = [0f, -39.68f, -3f, 69.12f, 39.68f, 1f];

    /// <summary>kitti-small with narrow channels and one conv per stage: quick to train on the tiny scenes.</summary>
    public static CenterPointOptions TinyOptions() => new()
    {
        PillarEncoder = new() { PillarSize = 0.32, MaxPointsPerPillar = 16, MaxPillars = 4000, Channels = 16 },
        Backbone = new() { LayerNums = [1, 1, 1], Filters = [16, 32, 32] },
        Neck = new() { UpsampleFilters = [16, 16, 16] },
        Head = new() { SharedConvChannels = 16 },
    };

    /// <summary>A dataset of the three KITTI classes over <paramref name="range"/> (the tiny scenes' when not given).</summary>
    public static DatasetInfo Info(float[]? range = null) => new("synthetic", ModelTask.Detection3D, Classes, 4, range ?? TinyRange);

    public static Box3D Car(float x, float y, float yaw) => new(x, y, Ground + 0.78f, 3.9f, 1.6f, 1.56f, yaw, 0);
    public static Box3D Pedestrian(float x, float y) => new(x, y, Ground + 0.88f, 0.8f, 0.6f, 1.76f, 0.3f, 1);

    public static Sample Frame(string id, int seed, params Box3D[] boxes)
    {
        var random = new Random(seed);
        var points = new List<float>();
        // Ground: a jittered 0.5 m lattice over the test range.
        for (var x = 0.25f; x < 20.4f; x += 0.5f)
            for (var y = -10.0f; y < 10.2f; y += 0.5f)
                points.AddRange([x + (float)random.NextDouble() * 0.1f, y, Ground + (float)random.NextDouble() * 0.05f, 0.1f]);
        foreach (var box in boxes)
        {
            float c = MathF.Cos(box.Yaw), s = MathF.Sin(box.Yaw);
            for (var i = 0; i < 300; i++)
            {
                // A point on one of the four sides (u along length, v along width) or on the top.
                var face = random.Next(5);
                float u = (float)random.NextDouble() - 0.5f, v = (float)random.NextDouble() - 0.5f, h = (float)random.NextDouble() - 0.5f;
                switch (face)
                {
                    case 0: u = 0.5f; break;
                    case 1: u = -0.5f; break;
                    case 2: v = 0.5f; break;
                    case 3: v = -0.5f; break;
                    default: h = 0.5f; break;
                }
                float lx = u * box.Length, ly = v * box.Width;
                points.AddRange([box.X + c * lx - s * ly, box.Y + s * lx + c * ly, box.Z + h * box.Height, 0.5f]);
            }
        }
        return new Sample { Id = id, Points = points.ToArray(), PointFeatures = 4, Boxes = boxes };
    }
}
