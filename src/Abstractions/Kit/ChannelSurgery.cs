using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>How channels of a group are ranked: the least important go first.</summary>
public enum ChannelImportance
{
    /// <summary>Mean |w| of each channel's producer filters (Li et al., ICLR 2017, per weight so groups of different fan-in compare).</summary>
    FilterL1,

    /// <summary>|γ| of the batch norm after the producer (Network Slimming, Liu et al., ICCV 2017); FilterL1 where a group has no norm.</summary>
    BatchNormScale,
}

/// <summary>
/// What every structured-pruning compressor and every <see cref="IChannelPrunable"/> model needs once: rank a group's
/// channels, count a model's FLOPs at given widths without building it, simulate a removal in place, and copy the kept
/// channels of a model into its smaller rebuild.
/// </summary>
public static class ChannelSurgery
{
    /// <summary>Each channel's importance in <paramref name="group"/> (higher is kept first).</summary>
    public static double[] Importance(nn.Module module, ChannelGroup group, ChannelImportance kind)
    {
        var state = module.state_dict();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        if (kind == ChannelImportance.BatchNormScale)
        {
            var scale = group.Members.FirstOrDefault(m => m.Role == ChannelRole.Norm && m.Tensor.EndsWith(".weight", StringComparison.Ordinal));
            if (scale is not null) return Channels(state, scale, group).abs().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        }
        var sum = zeros(group.Channels, ScalarType.Float64);
        long perChannel = 0;
        foreach (var producer in group.Producers.Where(p => !p.Tensor.EndsWith(".bias", StringComparison.Ordinal)))
        {
            // Scores are summed on the CPU (where they leave as numbers) whatever device the weights live on.
            var slice = Channels(state, producer, group).to_type(ScalarType.Float64).cpu();
            var rows = slice.movedim([producer.Dim], [0]).reshape(group.Channels, -1);
            sum += rows.abs().sum(1);
            perChannel += rows.shape[1];
        }
        if (perChannel == 0) throw new InvalidOperationException($"Channel group '{group.Name}' has no producer to rank its channels by.");
        return (sum / perChannel).data<double>().ToArray();
    }

    /// <summary>The <paramref name="count"/> most important channel indices, ascending (ties keep the lower index).</summary>
    public static long[] MostImportant(IReadOnlyList<double> importance, long count)
    {
        if (count < 1 || count > importance.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Cannot keep {count} of {importance.Count} channels.");
        return Enumerable.Range(0, importance.Count).OrderByDescending(i => importance[i]).ThenBy(i => i)
            .Take((int)count).Select(i => (long)i).Order().ToArray();
    }

    /// <summary>
    /// Multiply-accumulates per sample of <paramref name="model"/> if each group kept <paramref name="keptCounts"/> channels
    /// (groups not named keep all). See <see cref="ChannelFlops"/>.
    /// </summary>
    public static double Flops(IModel model, IReadOnlyList<ChannelGroup> groups, IReadOnlyDictionary<string, long> keptCounts, InputCosts? costs = null) =>
        new ChannelFlops(model, groups, costs).At(groups.Select(g => keptCounts.TryGetValue(g.Name, out var k) ? k : g.Channels).ToArray());

    /// <summary>
    /// Simulates removing the channels of <paramref name="group"/> not in <paramref name="kept"/>: zeroes the consumers'
    /// columns for them, which is what removal does to every output when the consumers are all the channels' readers.
    /// Returns the zeroed columns' old values; <see cref="Restore"/> puts them back.
    /// </summary>
    public static IReadOnlyList<(Tensor Target, Tensor Index, Tensor Saved, int Dim)> ZeroRemoved(nn.Module module, ChannelGroup group, IReadOnlyCollection<long> kept)
    {
        var keep = kept.ToHashSet();
        var removed = Enumerable.Range(0, (int)group.Channels).Select(i => (long)i).Where(i => !keep.Contains(i)).ToArray();
        var state = module.state_dict();
        var saved = new List<(Tensor, Tensor, Tensor, int)>();
        if (removed.Length == 0) return saved;
        using var _ = no_grad();
        foreach (var consumer in group.Consumers)
        {
            var target = Lookup(state, consumer.Tensor, group);
            var index = tensor(removed.Select(i => i + consumer.Offset).ToArray(), device: target.device);
            saved.Add((target, index, target.index_select(consumer.Dim, index).clone(), consumer.Dim));
            target.index_fill_(consumer.Dim, index, 0);
        }
        return saved;
    }

    public static void Restore(IReadOnlyList<(Tensor Target, Tensor Index, Tensor Saved, int Dim)> zeroed)
    {
        using var _ = no_grad();
        foreach (var (target, index, saved, dim) in zeroed.Reverse())
        {
            target.index_copy_(dim, index, saved);
            index.Dispose();
            saved.Dispose();
        }
    }

    /// <summary>
    /// Copies <paramref name="source"/>'s state into <paramref name="target"/> (the same architecture rebuilt at the kept
    /// widths, moved to the original's device and dtype): every tensor along each grouped dimension keeps the kept channels at their offsets and everything else whole;
    /// masks are cut the same way. Fails, naming the tensor, where a shape does not come out as the target's.
    /// </summary>
    public static void Transplant(IModel source, IModel target, IReadOnlyList<ChannelGroup> groups, IReadOnlyDictionary<string, long[]> kept)
    {
        foreach (var (name, channels) in kept)
        {
            var group = groups.FirstOrDefault(g => g.Name == name)
                        ?? throw new ArgumentException($"No channel group '{name}' in model '{source.Spec.Use}' (groups: {string.Join(", ", groups.Select(g => g.Name))}).");
            if (channels.Length == 0 || channels.Any(c => c < 0 || c >= group.Channels) || channels.Zip(channels.Skip(1)).Any(p => p.First >= p.Second))
                throw new ArgumentException($"Channel group '{name}': kept channels must be distinct, ascending indices in [0, {group.Channels}), at least one.");
        }
        var cuts = Cuts(groups, kept);
        // The rebuild lives where the original does, in its precision.
        var reference = source.Module.parameters().First();
        target.Module.to(reference.device).to(reference.dtype);
        var from = source.Module.state_dict();
        using var _ = no_grad();
        foreach (var (name, to) in target.Module.state_dict())
        {
            if (!from.TryGetValue(name, out var original))
                throw new InvalidOperationException($"Rebuilt model has a tensor '{name}' the original does not.");
            using var cut = Cut(original, name, cuts);
            if (!cut.shape.SequenceEqual(to.shape))
                throw new InvalidOperationException($"Tensor '{name}': kept channels give shape [{string.Join(", ", cut.shape)}], the rebuilt model has [{string.Join(", ", to.shape)}].");
            to.copy_(cut);
        }
        var layers = target.PrunableLayers.ToDictionary(l => l.Name);
        foreach (var (layer, mask) in source.Masks.Entries())
        {
            if (!layers.TryGetValue(layer, out var rebuilt)) continue;
            using var cut = Cut(mask, layer + ".weight", cuts);
            target.Masks.Set(rebuilt, cut);
        }
    }

    /// <summary>
    /// What <see cref="IChannelPrunable.WithChannels"/> does for a model whose options hold its per-group widths: the source's
    /// options (from its spec) with each kept group's width set, a new model built from them, the kept channels transplanted.
    /// </summary>
    public static IModel Rebuild<TOptions>(IChannelPrunable source, IReadOnlyDictionary<string, long[]> kept,
        Func<TOptions, Dictionary<string, int>> widthsOf, Func<TOptions, IModel> build) =>
        Rebuild(source, kept, (TOptions options, string group, int width) => widthsOf(options)[group] = width, build);

    /// <summary>
    /// <see cref="Rebuild{TOptions}(IChannelPrunable, IReadOnlyDictionary{string, long[]}, Func{TOptions, Dictionary{string, int}}, Func{TOptions, IModel})"/>
    /// for a model whose widths are options of its parts: <paramref name="setWidth"/> writes one group's width where it lives.
    /// </summary>
    public static IModel Rebuild<TOptions>(IChannelPrunable source, IReadOnlyDictionary<string, long[]> kept,
        Action<TOptions, string, int> setWidth, Func<TOptions, IModel> build)
    {
        var options = System.Text.Json.JsonSerializer.Deserialize<TOptions>(source.Spec.OptionsJson)
                      ?? throw new InvalidOperationException($"Model '{source.Spec.Use}': its options do not read back from its spec.");
        foreach (var (group, channels) in kept) setWidth(options, group, channels.Length);
        var smaller = build(options);
        try
        {
            Transplant(source, smaller, source.ChannelGroups, kept);
        }
        catch
        {
            smaller.Dispose();
            throw;
        }
        return smaller;
    }

    /// <summary>
    /// Refuses per-group widths below one channel and, given the model's <paramref name="groups"/> (after it is built), widths
    /// that name no group of it.
    /// </summary>
    public static void CheckWidths(string model, string option, IReadOnlyDictionary<string, int> widths, IEnumerable<ChannelGroup>? groups = null)
    {
        if (widths.FirstOrDefault(kv => kv.Value < 1) is { Key: not null } bad)
            throw new ArgumentException($"{model} option {option}: '{bad.Key}' = {bad.Value}; a layer needs at least one channel.");
        if (groups is null) return;
        var names = groups.Select(g => g.Name).ToHashSet();
        if (widths.Keys.FirstOrDefault(k => !names.Contains(k)) is { } unknown)
            throw new ArgumentException($"{model} option {option} names '{unknown}', which is not a channel group of this {model} (groups: {string.Join(", ", names)}).");
    }

    /// <summary>For each (tensor, dimension): the kept indices of every group there, placed at their offsets.</summary>
    private static Dictionary<(string, int), List<(long Offset, long Size, long[] Kept)>> Cuts(IReadOnlyList<ChannelGroup> groups, IReadOnlyDictionary<string, long[]> kept)
    {
        var cuts = new Dictionary<(string, int), List<(long, long, long[])>>();
        foreach (var group in groups)
        {
            if (!kept.TryGetValue(group.Name, out var channels)) continue;
            foreach (var m in group.Members)
            {
                if (!cuts.TryGetValue((m.Tensor, m.Dim), out var list)) cuts[(m.Tensor, m.Dim)] = list = [];
                list.Add((m.Offset, group.Channels, channels));
            }
        }
        return cuts;
    }

    private static Tensor Cut(Tensor original, string name, Dictionary<(string, int), List<(long Offset, long Size, long[] Kept)>> cuts)
    {
        var result = original.detach().clone();
        for (var dim = 0; dim < original.dim(); dim++)
        {
            if (!cuts.TryGetValue((name, dim), out var segments)) continue;
            var size = original.shape[dim];
            var index = new List<long>();
            long next = 0;
            foreach (var (offset, length, keptChannels) in segments.OrderBy(s => s.Offset))
            {
                if (offset < next || offset + length > size)
                    throw new InvalidOperationException($"Tensor '{name}' dimension {dim} (size {size}): channel groups overlap or run past it at offset {offset}.");
                for (var i = next; i < offset; i++) index.Add(i);
                index.AddRange(keptChannels.Select(c => offset + c));
                next = offset + length;
            }
            for (var i = next; i < size; i++) index.Add(i);
            using var indices = tensor(index.ToArray(), device: original.device);
            var narrowed = result.index_select(dim, indices);
            result.Dispose();
            result = narrowed;
        }
        return result;
    }

    private static Tensor Channels(IReadOnlyDictionary<string, Tensor> state, ChannelMember member, ChannelGroup group) =>
        Lookup(state, member.Tensor, group).narrow(member.Dim, member.Offset, group.Channels);

    private static Tensor Lookup(IReadOnlyDictionary<string, Tensor> state, string name, ChannelGroup group) =>
        state.TryGetValue(name, out var t) ? t : throw new InvalidOperationException($"Channel group '{group.Name}' names a tensor '{name}' the model does not have.");
}

/// <summary>
/// A model's multiply-accumulates per sample as a function of how many channels each group keeps, without building it: each
/// prunable layer's non-zero weights scaled by the kept ratios of its two grouped dimensions. Norms and other per-channel
/// costs are not scaled (they stay in <see cref="IModel.OtherFlopsPerSample"/>). The model's weights are read once, here,
/// so a planner may ask for thousands of plans.
/// </summary>
public sealed class ChannelFlops
{
    private readonly double _fixed;
    private readonly List<(double Flops, (long Size, List<(int Group, long Channels)> Groups)[] Dims)> _layers = [];

    public ChannelFlops(IModel model, IReadOnlyList<ChannelGroup> groups, InputCosts? costs = null)
    {
        using var _ = no_grad();
        _fixed = costs?.OtherFlopsPerSample ?? model.OtherFlopsPerSample;
        foreach (var layer in model.PrunableLayers)
        {
            var shape = layer.Weight.shape;
            var weight = layer.Name + ".weight";
            var dims = Enumerable.Range(0, Math.Min(2, shape.Length)).Select(d => (shape[d], groups
                .Select((g, i) => (Group: i, g.Channels, Touches: g.Members.Any(m => m.Tensor == weight && m.Dim == d)))
                .Where(p => p.Touches).Select(p => (p.Group, p.Channels)).ToList())).ToArray();
            _layers.Add((ModelStats.LayerFlops(layer, layer.Weight.count_nonzero().item<long>(), costs), dims));
        }
    }

    /// <summary>FLOPs if group i (in the order given to the constructor) kept <paramref name="counts"/>[i] channels.</summary>
    public double At(IReadOnlyList<long> counts)
    {
        var flops = _fixed;
        foreach (var (layerFlops, dims) in _layers)
        {
            var ratio = 1.0;
            foreach (var (size, touching) in dims)
                if (touching.Count > 0) ratio *= (double)(size - touching.Sum(t => t.Channels - counts[t.Group])) / size;
            flops += layerFlops * ratio;
        }
        return flops;
    }
}
