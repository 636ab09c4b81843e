using System.Globalization;
using System.Text.Json;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>One layer's share of a plan: how many of its weights go.</summary>
public sealed record LayerSparsityChoice(string Layer, string Kind, long Weights, long Pruned, double FlopsPerWeight, double PredictedDistortion)
{
    public double Sparsity => Weights == 0 ? 0 : (double)Pruned / Weights;
    public double FlopsBefore => Weights * FlopsPerWeight;
    public double FlopsAfter => (Weights - Pruned) * FlopsPerWeight;
}

/// <summary>The per-layer sparsities a compressor chose; left for later steps with <see cref="PipelineContext.Set{T}"/>.</summary>
public sealed record LayerSparsityPlan(string Method, IReadOnlyList<LayerSparsityChoice> Layers)
{
    public ReportTable ToTable() => new(
        $"{Method}: per-layer sparsity",
        ["layer", "kind", "weights", "FLOPs/weight", "sparsity", "kept weights", "MFLOPs before", "MFLOPs after", "predicted distortion"],
        Layers.Select(l => (IReadOnlyList<string>)
        [
            l.Layer, l.Kind, l.Weights.ToString(CultureInfo.InvariantCulture), l.FlopsPerWeight.ToString("G4", CultureInfo.InvariantCulture),
            l.Sparsity.ToString("F3", CultureInfo.InvariantCulture), (l.Weights - l.Pruned).ToString(CultureInfo.InvariantCulture),
            (l.FlopsBefore / 1e6).ToString("F3", CultureInfo.InvariantCulture), (l.FlopsAfter / 1e6).ToString("F3", CultureInfo.InvariantCulture),
            double.IsNaN(l.PredictedDistortion) ? "-" : l.PredictedDistortion.ToString("G4", CultureInfo.InvariantCulture),
        ]).ToList());

    public Series ToSeries() => new("layer index", "sparsity",
        Enumerable.Range(0, Layers.Count).Select(i => (double)i).ToList(), Layers.Select(l => l.Sparsity).ToList());

    public void Save(string path) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, new JsonSerializerOptions
        {
            WriteIndented = true,
            // Baselines predict no distortion: NaN.
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
}

/// <summary>Turns a per-layer count of removed weights into masks (the one kit mask, WeightMasks.Set).</summary>
internal static class LayerPruning
{
    /// <summary>
    /// Removes the <paramref name="count"/> weights of the layer with the lowest <paramref name="scores"/>
    /// (same shape as the weight). Weights already zero rank first, and an existing mask stays in force.
    /// </summary>
    public static void PruneLowest(IModel model, PruningCandidate candidate, Tensor scores, long count)
    {
        var layer = candidate.Layer;
        Tensor keep;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var order = RankOrder(layer.Weight, scores);
            var kept = ones(candidate.Weights, dtype: ScalarType.Bool);
            if (count > 0) kept.index_fill_(0, order.slice(0, 0, Math.Min(count, candidate.Weights), 1), false);
            if (model.Masks.TryGet(layer.Name, out var existing)) kept = kept.logical_and(existing.flatten().cpu());
            keep = kept.reshape(layer.Weight.shape).DetachFromDisposeScope();
        }
        model.Masks.Set(layer, keep);
        keep.Dispose();
    }

    /// <summary>Flat indices of the weight in removal order: ascending score, weights that are already zero first.</summary>
    public static Tensor RankOrder(Tensor weight, Tensor scores)
    {
        var flat = scores.detach().flatten().to_type(ScalarType.Float64).cpu();
        var alreadyZero = weight.detach().flatten().cpu().eq(0);
        // Scores are non-negative; -1 puts already removed weights ahead of every live one.
        return flat.masked_fill(alreadyZero, -1.0).argsort(0);
    }
}
