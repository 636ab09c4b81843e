using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Plugins.Pruning.HessianDP;

/// <summary>
/// Measured curves on disk (issue 10 §1): bench rows that differ only in the budget measure the same curves, so
/// they are kept under a key that covers everything a measurement depends on: every parameter and buffer of the
/// model, the collated calibration inputs, the distortion settings, and each layer's name, size and levels.
/// A file is trusted only when its key, layer names, sizes, levels and value counts all match.
/// </summary>
internal static class CurveCache
{
    private const int Version = 1;

    private sealed record CachedLayer(string Name, long Weights, long[] Levels, double[] Measured);

    private sealed record CachedCurves(int Version, string Key, List<CachedLayer> Layers);

    /// <summary>The cache key; <paramref name="orderScores"/>: the per-layer removal scores when the order is not magnitude; <paramref name="variant"/>: how levels were measured otherwise.</summary>
    public static string Key(IModel model, CalibrationSet calibration, IReadOnlyList<PruningCandidate> candidates, long[][] grids, IReadOnlyList<Tensor>? orderScores = null,
        string? variant = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) => hash.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        void Data(Tensor t)
        {
            using var scope = NewDisposeScope();
            var cpu = t.detach().cpu().contiguous();
            Text($"{cpu.dtype} {string.Join("x", cpu.shape)}");
            hash.AppendData(cpu.bytes);
        }
        // Devices differ in the last bits of a forward: curves measured on one are not reused on another.
        Text($"curve-cache v{Version} {calibration.Batches.FirstOrDefault()?.Tensors.Values.FirstOrDefault()?.device_type}");
        foreach (var (name, p) in model.Module.named_parameters()) { Text(name); Data(p); }
        foreach (var (name, b) in model.Module.named_buffers()) { Text(name); Data(b); }
        foreach (var batch in calibration.Batches)
            foreach (var (name, t) in batch.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { Text(name); Data(t); }
        Text(calibration.Weights.ToString());
        for (var i = 0; i < candidates.Count; i++)
            Text($"{candidates[i].Name} {candidates[i].Weights} {string.Join(",", grids[i])}");
        // Magnitude order adds nothing, so caches written before other orders existed still match.
        if (orderScores is not null)
            foreach (var scores in orderScores) { Text("order"); Data(scores); }
        // How each level was measured beyond the order (e.g. after a refit); none adds nothing, as for the order.
        if (variant is not null) Text("variant " + variant);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static string PathOf(string folder, string key) => Path.Combine(folder, $"curves-{key[..16]}.json");

    /// <summary>The cached values, or null with the reason when the file is missing, unreadable or does not match.</summary>
    /// <param name="signed">Values may be negative: curves around a plan are differences (pruning one more layer can lower the joint distortion).</param>
    public static double[][]? TryRead(string path, string key, IReadOnlyList<PruningCandidate> candidates, long[][] grids, out string? problem, bool signed = false)
    {
        problem = null;
        if (!File.Exists(path)) return null;
        CachedCurves? cached;
        try
        {
            cached = JsonSerializer.Deserialize<CachedCurves>(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            problem = $"cannot be read ({e.Message})";
            return null;
        }
        problem = Mismatch(cached, key, candidates, grids, signed);
        return problem is null ? cached!.Layers.Select(l => l.Measured).ToArray() : null;
    }

    private static string? Mismatch(CachedCurves? cached, string key, IReadOnlyList<PruningCandidate> candidates, long[][] grids, bool signed)
    {
        if (cached?.Layers is null) return "is empty";
        if (cached.Version != Version || cached.Key != key) return "belongs to another model, calibration set or setting";
        if (cached.Layers.Count != candidates.Count) return $"has {cached.Layers.Count} layers, expected {candidates.Count}";
        for (var i = 0; i < candidates.Count; i++)
        {
            var l = cached.Layers[i];
            if (l.Name != candidates[i].Name || l.Weights != candidates[i].Weights) return $"layer {i} is '{l.Name}' ({l.Weights} weights), expected '{candidates[i].Name}' ({candidates[i].Weights})";
            if (l.Levels is null || !l.Levels.SequenceEqual(grids[i])) return $"layer '{l.Name}' has other levels";
            if (l.Measured is null || l.Measured.Length != grids[i].Length) return $"layer '{l.Name}' has {l.Measured?.Length ?? 0} values for {grids[i].Length} levels";
            if (l.Measured.Any(v => !double.IsFinite(v) || (v < 0 && !signed)))
                return $"layer '{l.Name}' has a value that is not a finite{(signed ? "" : " non-negative")} number";
        }
        return null;
    }

    public static void Write(string path, string key, IReadOnlyList<PruningCandidate> candidates, long[][] grids, double[][] measured)
    {
        var cached = new CachedCurves(Version, key, candidates.Select((c, i) => new CachedLayer(c.Name, c.Weights, grids[i], measured[i])).ToList());
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(cached, new JsonSerializerOptions { WriteIndented = true }));
    }
}
