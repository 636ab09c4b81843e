using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Hands out the batches of a loop in order and, where <paramref name="ahead"/> is set (the model allows it:
/// <see cref="IModel.CollatesOffThread"/>), collates batch k + 1 on another thread while the caller uses batch k: on a GPU
/// the host's share of each step (reading samples, binning points, drawing targets) then hides behind the device's.
/// The batches are the same either way. Each batch's tensors belong to no dispose scope; the caller disposes the batch.
/// </summary>
/// <remarks>
/// Call <see cref="Settle"/> before leaving the step's <see cref="NoGcRegion"/>, so that the collation finishes inside
/// it and no collection meets its native calls; disposing the prefetch drops a batch collated for a step that never came.
/// </remarks>
public sealed class BatchPrefetch(Func<int, ModelBatch> collate, int count, bool ahead) : IDisposable
{
    private Task<ModelBatch>? _next;

    /// <summary>Batch <paramref name="index"/> (the prefetched one when it is there), and the start of the next one's collation.</summary>
    public ModelBatch Take(int index)
    {
        var batch = _next?.GetAwaiter().GetResult() ?? Collate(index);
        _next = null;
        var following = index + 1;
        if (ahead && following < count) _next = Task.Run(() => Collate(following));
        return batch;
    }

    /// <summary>Waits for the batch being collated; a failure to read or collate it is raised here, with its own exception.</summary>
    public void Settle() => _next?.GetAwaiter().GetResult();

    public void Dispose()
    {
        try
        {
            _next?.GetAwaiter().GetResult().Dispose();
        }
        catch (Exception)
        {
            // The loop is already ending with its own error (or this batch's, raised by Settle).
        }
        _next = null;
    }

    private ModelBatch Collate(int index)
    {
        // On the prefetch thread there is no step scope to hold the tensors; on the caller's they must outlive the step's.
        using var scope = NewDisposeScope();
        var batch = collate(index);
        scope.Detach(batch.Tensors.Values);
        return batch;
    }
}
