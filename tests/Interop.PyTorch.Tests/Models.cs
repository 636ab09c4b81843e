using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Plugins.Models.CenterPoint;
using Platform.Plugins.Models.PointNet;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>Small models and inputs for the round trips: built in milliseconds, weights drawn from a seed.</summary>
internal static class Models
{
    public static readonly DatasetInfo ThreeShapes = new("shapes", ModelTask.Classification, ["a", "b", "c"], 3);

    /// <summary>A narrow PointNet with both T-Nets, its weights drawn from <paramref name="seed"/> and its batch norms given running statistics.</summary>
    public static PointNetModel PointNet(int seed, double width = 0.125)
    {
        Seeding.Seed(seed);
        var model = new PointNetModel(new PointNetOptions { WidthMultiplier = width, NumPoints = 32 }, ThreeShapes);
        GiveRunningStatistics(model, seed);
        return model;
    }

    /// <summary>CenterPoint at the tiny widths of its own tests (one conv per stage, 16-32 channels), on a 20 m square.</summary>
    public static CenterPointModel CenterPoint(int seed)
    {
        Seeding.Seed(seed);
        var options = new CenterPointOptions
        {
            PillarEncoder = new() { PillarSize = 0.32, MaxPointsPerPillar = 16, MaxPillars = 4000, Channels = 16 },
            Backbone = new() { LayerNums = [1, 1, 1], Filters = [16, 32, 32] },
            Neck = new() { UpsampleFilters = [16, 16, 16] },
            Head = new() { SharedConvChannels = 16 },
        };
        var model = new CenterPointModel(options, new DatasetInfo("synthetic", ModelTask.Detection3D, ["Car", "Pedestrian", "Cyclist"], 4, [0f, -10.24f, -3f, 20.48f, 10.24f, 1f]));
        GiveRunningStatistics(model, seed);
        return model;
    }

    /// <summary>Running statistics that differ by seed: a freshly built model's are 0 and 1 whatever its seed, which would hide an import that skips buffers.</summary>
    private static void GiveRunningStatistics(IModel model, int seed)
    {
        var generator = new Random(seed);
        using var _ = no_grad();
        foreach (var (name, buffer) in model.Module.named_buffers())
        {
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) buffer.copy_(randn_like(buffer) * 0.1);
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) buffer.copy_(rand_like(buffer) + 0.5);
            else if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) buffer.fill_(generator.Next(1, 100));
        }
    }

    public static Sample[] Shapes(int count, int points, int seed = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new Sample
        {
            Id = $"s{i}",
            Points = Enumerable.Range(0, points * 3).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(),
            PointFeatures = 3,
            Label = i % 3,
        }).ToArray();
    }

    /// <summary>A lidar-like frame: 2000 random points (x, y, z, intensity) inside the tiny range.</summary>
    public static Sample[] Frame(int seed = 1)
    {
        var random = new Random(seed);
        var points = new float[2000 * 4];
        for (var i = 0; i < 2000; i++)
        {
            points[4 * i] = (float)(random.NextDouble() * 20);
            points[4 * i + 1] = (float)(random.NextDouble() * 20 - 10);
            points[4 * i + 2] = (float)(random.NextDouble() * 3 - 2.5);
            points[4 * i + 3] = (float)random.NextDouble();
        }
        return [new Sample { Id = "f0", Points = points, PointFeatures = 4 }];
    }

    /// <summary>Every output tensor of one forward in eval mode.</summary>
    public static Dictionary<string, Tensor> Outputs(IModel model, IReadOnlyList<Sample> samples)
    {
        model.Module.eval();
        using var _ = no_grad();
        using var batch = model.CollateInputs(samples, CPU);
        return model.Forward(batch).Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope());
    }

    /// <summary>Same shape, dtype and every element equal (TorchSharp's Tensor.equal compares element-wise).</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    public static void AssertSameOutputs(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, tensor) in expected)
            Assert.That(Same(actual[name], tensor), Is.True, $"output '{name}' differs: largest difference {(actual[name] - tensor).abs().max().item<float>()}");
    }
}
