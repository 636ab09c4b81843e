using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

/// <summary>What an import did: each file tensor loaded (under its file and model names), and the keys left over on either side.</summary>
public sealed record ImportReport(
    IReadOnlyList<(string FileKey, string ModelKey)> Loaded,
    IReadOnlyList<(string FileKey, string MappedTo, long[] Shape)> Unmapped,
    IReadOnlyList<(string ModelKey, long[] Shape)> Missing,
    int DTypeConversions);

/// <summary>
/// Copies a state dict into a model's parameters and buffers (batch-norm running statistics included): names mapped,
/// every shape checked before anything is copied, values converted to the model's dtype and device.
/// </summary>
public static class WeightImport
{
    /// <param name="source">Where the tensors came from, for messages (the file).</param>
    /// <param name="allowMissing">Whether model tensors the file does not hold may keep their values (otherwise an error).</param>
    /// <exception cref="InvalidDataException">Shapes disagree, two file keys map to one model key, or keys are missing: nothing was copied.</exception>
    public static ImportReport Apply(IModel model, IReadOnlyDictionary<string, Tensor> tensors, WeightNames names, bool allowMissing, string source)
    {
        var target = model.Module.state_dict();
        var loaded = new List<(string FileKey, string ModelKey)>();
        var unmapped = new List<(string, string, long[])>();
        var mappedFrom = new Dictionary<string, string>(StringComparer.Ordinal);
        var mismatches = new List<string>();
        foreach (var (fileKey, tensor) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var modelKey = names.Map(fileKey);
            if (!target.TryGetValue(modelKey, out var destination))
            {
                unmapped.Add((fileKey, modelKey, tensor.shape));
                continue;
            }
            if (!mappedFrom.TryAdd(modelKey, fileKey))
                throw new InvalidDataException($"{source}: '{mappedFrom[modelKey]}' and '{fileKey}' both map to the model's '{modelKey}'; refine the rename rules.");
            if (!tensor.shape.SequenceEqual(destination.shape))
                mismatches.Add($"'{fileKey}' {Shape(tensor.shape)} -> '{modelKey}' {Shape(destination.shape)}");
            else if (tensor.is_complex() && !destination.is_complex())
                mismatches.Add($"'{fileKey}' {tensor.dtype} -> '{modelKey}' {destination.dtype} (a complex value has no real equivalent)");
            loaded.Add((fileKey, modelKey));
        }
        if (mismatches.Count > 0)
            throw new InvalidDataException($"{source}: {mismatches.Count} tensor(s) do not fit the model's (file key, shape -> model key, shape): " +
                                           string.Join("; ", mismatches.Take(10)) + (mismatches.Count > 10 ? $"; and {mismatches.Count - 10} more" : "") + ". Nothing was loaded.");
        var missing = target.Where(kv => !mappedFrom.ContainsKey(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value.shape)).ToList();
        if (missing.Count > 0 && !allowMissing)
            throw new InvalidDataException($"{source}: {missing.Count} of the model's {target.Count} tensors are not in the file: " +
                                           string.Join(", ", missing.Take(10).Select(m => $"'{m.Key}'")) + (missing.Count > 10 ? $" and {missing.Count - 10} more" : "") +
                                           (unmapped.Count > 0 ? $"; the file's unused keys include {string.Join(", ", unmapped.Take(5).Select(u => $"'{u.Item1}'"))}" : "") +
                                           ". Add rename rules, or set AllowMissing to keep their current values. Nothing was loaded.");

        var conversions = 0;
        using (no_grad())
        {
            foreach (var (fileKey, modelKey) in loaded)
            {
                var from = tensors[fileKey];
                var to = target[modelKey];
                if (from.dtype != to.dtype) conversions++;
                // copy_ converts the dtype and moves to the destination's device.
                to.copy_(from);
            }
        }
        // A removed weight stays zero (WeightMasks): weights imported into a masked model are masked again.
        model.Masks.Apply(model.PrunableLayers);
        return new ImportReport(loaded, unmapped, missing, conversions);
    }

    public static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
