using static TorchSharp.torch;

namespace Platform.Abstractions.Models;

/// <summary>
/// Binary masks over prunable weights, by layer name. Applying them zeroes the removed weights;
/// the training loop re-applies them after every optimiser step so removed weights stay removed.
/// </summary>
public sealed class WeightMasks : IDisposable
{
    private readonly Dictionary<string, Tensor> _masks = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> LayerNames => _masks.Keys;
    public int Count => _masks.Count;
    public bool TryGet(string layer, out Tensor mask) => _masks.TryGetValue(layer, out mask!);

    /// <summary>Sets the mask of <paramref name="layer"/> (1 keeps, 0 removes) and zeroes the removed weights.</summary>
    public void Set(PrunableLayer layer, Tensor keep)
    {
        if (!keep.shape.SequenceEqual(layer.Weight.shape))
            throw new ArgumentException($"Mask for layer '{layer.Name}' has shape [{string.Join(",", keep.shape)}], the weight has [{string.Join(",", layer.Weight.shape)}].");
        if (_masks.Remove(layer.Name, out var old)) old.Dispose();
        // Masks live as long as the model, not as long as the caller's dispose scope; contiguous, because a mask built
        // through a permute (a deblock's [in, out, kh, kw] weight seen as rows) cannot be written to a checkpoint otherwise.
        _masks[layer.Name] = keep.to_type(ScalarType.Bool).to(layer.Weight.device).contiguous().detach().DetachFromDisposeScope();
        Apply(layer);
    }

    public void Clear()
    {
        foreach (var m in _masks.Values) m.Dispose();
        _masks.Clear();
    }

    /// <summary>Zeroes masked weights of every layer that has a mask.</summary>
    public void Apply(IEnumerable<PrunableLayer> layers)
    {
        foreach (var layer in layers) Apply(layer);
    }

    public void Apply(PrunableLayer layer)
    {
        if (!_masks.TryGetValue(layer.Name, out var mask)) return;
        using var _ = no_grad();
        if (mask.device_type != layer.Weight.device_type || mask.device_index != layer.Weight.device_index)
        {
            // The model moved (cpu <-> cuda): follow it, outside any dispose scope of the caller.
            _masks[layer.Name] = mask.to(layer.Weight.device).DetachFromDisposeScope();
            mask.Dispose();
            mask = _masks[layer.Name];
        }
        layer.Weight.mul_(mask);
    }

    /// <summary>Every mask by layer name, as stored (bool, on the weight's device); Checkpoint converts them for saving.</summary>
    public IEnumerable<(string Layer, Tensor Mask)> Entries() => _masks.Select(kv => (kv.Key, kv.Value));

    public void Dispose() => Clear();
}
