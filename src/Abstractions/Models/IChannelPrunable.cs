namespace Platform.Abstractions.Models;

/// <summary>
/// A model whose channels can be removed physically, so the pruned model runs smaller kernels (structured pruning,
/// issue 12; Torch-Pruning's dependency groups). The model declares its <see cref="ChannelGroups"/>; the kit
/// (<see cref="Kit.ChannelSurgery"/>) ranks, simulates and counts them, and <see cref="WithChannels"/> builds the smaller model.
/// </summary>
public interface IChannelPrunable : IModel
{
    /// <summary>Every group of coupled channels a compressor may shrink, in forward order.</summary>
    IReadOnlyList<ChannelGroup> ChannelGroups { get; }

    /// <summary>
    /// A new model of the same kind in which each group named in <paramref name="kept"/> keeps only those channels
    /// (indices into the group, ascending) and every other group keeps all, with the kept channels' weights, buffers and
    /// masks copied (<see cref="Kit.ChannelSurgery.Transplant"/>). Its <see cref="IModel.Spec"/> records the new widths,
    /// so a checkpoint of it rebuilds the small architecture by itself. This model is left as it was.
    /// </summary>
    IModel WithChannels(IReadOnlyDictionary<string, long[]> kept);
}

/// <summary>What a tensor's channel dimension is to a group.</summary>
public enum ChannelRole
{
    /// <summary>The weight (or bias) that computes the channels: its output dimension.</summary>
    Producer,

    /// <summary>A per-channel parameter or buffer after the producer: batch norm's scale, shift and running statistics.</summary>
    Norm,

    /// <summary>A weight that reads the channels: its input dimension, at <see cref="ChannelMember.Offset"/> where the input is a concatenation.</summary>
    Consumer,
}

/// <summary>
/// One tensor of the model's state (its state-dict name) whose dimension <paramref name="Dim"/> holds a group's channels at
/// [<paramref name="Offset"/>, Offset + group size): the offset places a group inside a concatenated input.
/// </summary>
public sealed record ChannelMember(string Tensor, int Dim, ChannelRole Role, long Offset = 0);

/// <summary>
/// Channels that must go together: removing channel c removes row c of every producer and norm member and column
/// Offset + c of every consumer. A group's consumers must be every reader of its channels, so that zeroing the consumers'
/// columns is exactly what removing the channels does to the outputs (how compressors measure a removal without rebuilding).
/// </summary>
public sealed record ChannelGroup(string Name, long Channels, IReadOnlyList<ChannelMember> Members)
{
    public IEnumerable<ChannelMember> Producers => Members.Where(m => m.Role == ChannelRole.Producer);
    public IEnumerable<ChannelMember> Consumers => Members.Where(m => m.Role == ChannelRole.Consumer);

    /// <summary>
    /// The common case: a conv or linear layer <paramref name="producer"/> (weight [out, in, ...], optional bias), an optional
    /// batch norm <paramref name="norm"/>, read by conv or linear layers <paramref name="consumers"/> (weight [out, in, ...]).
    /// Transposed convolutions store [in, out, ...] and need their members spelled out.
    /// </summary>
    public static ChannelGroup Chain(string name, long channels, string producer, string? norm, IEnumerable<string> consumers, bool producerBias = false)
    {
        var members = new List<ChannelMember> { new(producer + ".weight", 0, ChannelRole.Producer) };
        if (producerBias) members.Add(new(producer + ".bias", 0, ChannelRole.Producer));
        if (norm is not null)
            members.AddRange(NormTensors.Select(t => new ChannelMember($"{norm}.{t}", 0, ChannelRole.Norm)));
        members.AddRange(consumers.Select(c => new ChannelMember(c + ".weight", 1, ChannelRole.Consumer)));
        return new ChannelGroup(name, channels, members);
    }

    /// <summary>A batch norm's per-channel tensors (num_batches_tracked is a scalar).</summary>
    public static readonly IReadOnlyList<string> NormTensors = ["weight", "bias", "running_mean", "running_var"];
}
