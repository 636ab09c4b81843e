using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>One layer's choices: at each level, the FLOPs it keeps and the distortion it adds.</summary>
public sealed record LayerLevels(double[] Flops, double[] Distortion)
{
    public int Count => Flops.Length;
}

/// <summary>
/// Chooses one level per layer to minimise Σ_l D_l(level_l) subject to Σ_l FLOPs_l(level_l) ≤ budget,
/// assuming distortions add across layers (DM3D; ICCV 2023 §3.2).
/// </summary>
public static class SparsityAllocation
{
    /// <summary>
    /// Exact dynamic programme on a discretised budget (ICCV 2023 §3.3, with FLOPs in place of weights):
    /// dp_l[s] = min_d D_l(d) + dp_{l−1}[s − k_l(d)], where k_l(d) is layer l's FLOPs above its cheapest level
    /// in units of (budget − Σ cheapest)/steps, rounded up so a plan never exceeds the budget.
    /// One tensor min over [levels × steps] per layer.
    /// </summary>
    public static int[] DynamicProgramming(IReadOnlyList<LayerLevels> layers, double budget, int steps)
    {
        var units = DiscretisedCosts(layers, budget, steps);
        using var scope = NewDisposeScope();
        var dp = zeros(steps + 1, ScalarType.Float64); // no layers yet: distortion 0 at every budget
        var choices = new List<Tensor>(layers.Count);
        var s = arange(steps + 1, ScalarType.Int64);
        for (var l = 0; l < layers.Count; l++)
        {
            var k = tensor(units[l]);
            var pad = (long)units[l].Max();
            // padded[j + pad] = dp[j]; j < 0 is infeasible.
            var padded = cat([full(pad, double.PositiveInfinity, ScalarType.Float64), dp]);
            var index = (s.unsqueeze(0) - k.unsqueeze(1) + pad).clamp_min(0); // [levels, steps+1]
            var candidates = padded.gather(0, index.flatten()).reshape(index.shape) + tensor(layers[l].Distortion).unsqueeze(1);
            var (best, arg) = candidates.min(0);
            dp = best;
            choices.Add(arg);
        }
        if (double.IsPositiveInfinity(dp[steps].item<double>()))
            throw new InvalidOperationException("No combination of levels fits the budget (the budget is below the sum of the layers' cheapest levels).");

        var chosen = new int[layers.Count];
        long remaining = steps;
        for (var l = layers.Count - 1; l >= 0; l--)
        {
            chosen[l] = (int)choices[l][remaining].item<long>();
            remaining -= units[l][chosen[l]];
        }
        return chosen;
    }

    /// <summary>Each level's FLOPs above the layer's cheapest level, in budget units, rounded up (the DP's discretisation).</summary>
    public static long[][] DiscretisedCosts(IReadOnlyList<LayerLevels> layers, double budget, int steps)
    {
        var floor = layers.Sum(l => l.Flops.Min());
        var slack = budget - floor;
        if (slack < -1e-9 * Math.Max(1, Math.Abs(budget)))
            throw new InvalidOperationException($"The budget {budget:G6} FLOPs is below the least reachable {floor:G6}.");
        var unit = Math.Max(slack, 0) / steps;
        return layers.Select(l =>
        {
            var min = l.Flops.Min();
            return l.Flops.Select(f =>
            {
                var extra = f - min;
                if (extra <= 0) return 0L;
                if (unit <= 0) return steps + 1L;
                return Math.Min(steps + 1L, (long)Math.Ceiling(extra / unit - 1e-9));
            }).ToArray();
        }).ToArray();
    }

    /// <summary>
    /// Lagrangian relaxation (DM3D research code): for a slope λ each layer picks argmin D_l(d) + λ·FLOPs_l(d);
    /// bisection on log λ finds the smallest slope whose plan fits the budget. Not exact: only plans on the
    /// lower convex hull of each curve are reachable.
    /// </summary>
    public static int[] Lagrangian(IReadOnlyList<LayerLevels> layers, double budget)
    {
        int[] Pick(double lambda) => layers.Select(l =>
        {
            var best = 0;
            for (var d = 1; d < l.Count; d++)
            {
                var a = l.Distortion[d] + lambda * l.Flops[d];
                var b = l.Distortion[best] + lambda * l.Flops[best];
                if (a < b || (a == b && l.Flops[d] < l.Flops[best])) best = d;
            }
            return best;
        }).ToArray();
        double Total(int[] pick) => layers.Select((l, i) => l.Flops[pick[i]]).Sum();

        var atZero = Pick(0);
        if (Total(atZero) <= budget) return atZero;
        double hi = 1e-30;
        while (Total(Pick(hi)) > budget)
        {
            hi *= 10;
            if (hi > 1e300) throw new InvalidOperationException($"No slope λ fits the budget {budget:G6} FLOPs.");
        }
        var lo = hi / 10;
        for (var it = 0; it < 200 && hi / lo > 1 + 1e-12; it++)
        {
            var mid = Math.Sqrt(lo * hi);
            if (Total(Pick(mid)) <= budget) hi = mid; else lo = mid;
        }
        return Pick(hi);
    }

    /// <summary>
    /// Spends what the chosen levels leave of the budget, one weight at a time: restore the removed weight
    /// whose restoration lowers the predicted distortion most per FLOP, while it fits. Takes the plan from the
    /// grid's resolution to one-weight resolution, so every method lands on the same budget.
    /// </summary>
    internal static long[] FillBudget(IReadOnlyList<LayerDistortionCurve> curves, long[] pruned, double budget)
    {
        var result = (long[])pruned.Clone();
        var slack = budget - curves.Select((c, i) => c.Candidate.FlopsAt(result[i])).Sum();
        var queue = new PriorityQueue<int, double>();
        void Offer(int i)
        {
            var c = curves[i];
            if (result[i] <= c.Candidate.AlreadyZero || c.Candidate.FlopsPerWeight > slack) return;
            var gain = c.At(result[i]) - c.At(result[i] - 1);
            var perFlop = c.Candidate.FlopsPerWeight > 0 ? gain / c.Candidate.FlopsPerWeight : double.PositiveInfinity;
            queue.Enqueue(i, -perFlop);
        }
        for (var i = 0; i < curves.Count; i++) Offer(i);
        while (queue.TryDequeue(out var i, out _))
        {
            var cost = curves[i].Candidate.FlopsPerWeight;
            if (cost > slack) continue;
            result[i]--;
            slack -= cost;
            Offer(i);
        }
        return result;
    }
}
