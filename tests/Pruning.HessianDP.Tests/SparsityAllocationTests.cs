namespace Platform.Plugins.Pruning.HessianDP.Tests;

public class SparsityAllocationTests
{
    private static List<LayerLevels> RandomInstance(Random random, int layers, int levels, bool integerCosts)
    {
        var result = new List<LayerLevels>();
        for (var l = 0; l < layers; l++)
        {
            // Levels from dense to sparse: FLOPs fall, distortion rises (random steps, as real curves do).
            var flops = new double[levels];
            var distortion = new double[levels];
            var f = integerCosts ? random.Next(20, 40) : 20 + random.NextDouble() * 20;
            double d = 0;
            for (var k = 0; k < levels; k++)
            {
                flops[k] = f;
                distortion[k] = d;
                f -= integerCosts ? random.Next(1, 5) : random.NextDouble() * 4;
                d += random.NextDouble() * random.NextDouble() * 3;
            }
            result.Add(new LayerLevels(flops, distortion));
        }
        return result;
    }

    /// <summary>Enumerates every combination of levels: the ground truth the DP must reproduce.</summary>
    private static (double Distortion, int[] Choice) BruteForce(IReadOnlyList<LayerLevels> layers, Func<int[], bool> feasible)
    {
        var best = (double.PositiveInfinity, Array.Empty<int>());
        var choice = new int[layers.Count];
        void Visit(int l)
        {
            if (l == layers.Count)
            {
                if (!feasible(choice)) return;
                var d = choice.Select((c, i) => layers[i].Distortion[c]).Sum();
                if (d < best.Item1) best = (d, (int[])choice.Clone());
                return;
            }
            for (var c = 0; c < layers[l].Count; c++)
            {
                choice[l] = c;
                Visit(l + 1);
            }
        }
        Visit(0);
        return best;
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Dynamic_programming_matches_brute_force_when_the_budget_unit_is_one_flop(int seed)
    {
        var random = new Random(seed);
        var layers = RandomInstance(random, layers: 5, levels: 5, integerCosts: true);
        var cheapest = layers.Sum(l => l.Flops.Min());
        var dense = layers.Sum(l => l.Flops.Max());
        var budget = Math.Round(cheapest + 0.4 * (dense - cheapest));
        // steps = budget − Σ cheapest makes one unit exactly one FLOP: the DP's discretisation is then lossless.
        var chosen = SparsityAllocation.DynamicProgramming(layers, budget, steps: (int)(budget - cheapest));

        var truth = BruteForce(layers, c => c.Select((d, i) => layers[i].Flops[d]).Sum() <= budget + 1e-9);
        var dp = chosen.Select((c, i) => layers[i].Distortion[c]).Sum();
        Assert.That(chosen.Select((c, i) => layers[i].Flops[c]).Sum(), Is.LessThanOrEqualTo(budget + 1e-9));
        Assert.That(dp, Is.EqualTo(truth.Distortion).Within(1e-9));
    }

    [TestCase(7)]
    [TestCase(8)]
    public void Dynamic_programming_is_exact_for_its_discretised_costs(int seed)
    {
        var random = new Random(seed);
        var layers = RandomInstance(random, layers: 4, levels: 6, integerCosts: false);
        var cheapest = layers.Sum(l => l.Flops.Min());
        var budget = cheapest + 0.3 * (layers.Sum(l => l.Flops.Max()) - cheapest);
        const int steps = 37;
        var units = SparsityAllocation.DiscretisedCosts(layers, budget, steps);
        var chosen = SparsityAllocation.DynamicProgramming(layers, budget, steps);

        var truth = BruteForce(layers, c => c.Select((d, i) => units[i][d]).Sum() <= steps);
        Assert.That(chosen.Select((c, i) => layers[i].Distortion[c]).Sum(), Is.EqualTo(truth.Distortion).Within(1e-9));
        // Rounding costs up keeps the plan inside the real budget.
        Assert.That(chosen.Select((c, i) => layers[i].Flops[c]).Sum(), Is.LessThanOrEqualTo(budget + 1e-9));
    }

    [Test]
    public void A_budget_equal_to_the_cheapest_levels_selects_them()
    {
        var layers = new List<LayerLevels> { new([10, 6, 2], [0, 1, 5]), new([8, 4, 1], [0, 2, 3]) };
        Assert.That(SparsityAllocation.DynamicProgramming(layers, 3, 100), Is.EqualTo(new[] { 2, 2 }));
    }

    [Test]
    public void Hand_solved_instance_picks_the_cheaper_distortion_split()
    {
        // Budget 10 FLOPs: 6 + 4 gives distortion 1 + 2 = 3, better than 6 + 1 (1 + 3 = 4) and 2 + 8 (5 + 0 = 5);
        // 10 + anything exceeds it. Steps = 10 − (2 + 1) makes one unit one FLOP.
        var layers = new List<LayerLevels> { new([10, 6, 2], [0, 1, 5]), new([8, 4, 1], [0, 2, 3]) };
        var chosen = SparsityAllocation.DynamicProgramming(layers, 10, 7);
        Assert.That(chosen, Is.EqualTo(new[] { 1, 1 }));
    }

    [Test]
    public void Lagrangian_meets_the_budget_and_never_beats_the_exact_dp()
    {
        var random = new Random(11);
        var layers = RandomInstance(random, layers: 5, levels: 6, integerCosts: true);
        var cheapest = layers.Sum(l => l.Flops.Min());
        var budget = Math.Round(cheapest + 0.5 * (layers.Sum(l => l.Flops.Max()) - cheapest));
        var lagrangian = SparsityAllocation.Lagrangian(layers, budget);
        var dp = SparsityAllocation.DynamicProgramming(layers, budget, (int)(budget - cheapest));
        Assert.That(lagrangian.Select((c, i) => layers[i].Flops[c]).Sum(), Is.LessThanOrEqualTo(budget));
        Assert.That(lagrangian.Select((c, i) => layers[i].Distortion[c]).Sum(),
            Is.GreaterThanOrEqualTo(dp.Select((c, i) => layers[i].Distortion[c]).Sum() - 1e-12));
    }
}
