using Platform.Abstractions.Models;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Re-estimates the running mean and variance of every batch-norm layer on a few batches, with the
/// weights as they are now. Removing weights shifts the statistics each batch norm normalises by; the
/// stored ones describe the dense network. No learned parameter changes: this is estimation, not
/// training, so a post-training compressor stays post-training.
/// </summary>
public static class BatchNormRecalibration
{
    /// <returns>The number of batch-norm layers re-estimated.</returns>
    public static int Run(IModel model, IEnumerable<ModelBatch> batches)
    {
        var norms = model.Module.modules().OfType<TorchSharp.Modules.BatchNorm>().Where(n => n.track_running_stats).ToList();
        if (norms.Count == 0) return 0;
        var momenta = norms.Select(n => n.momentum).ToList();
        try
        {
            foreach (var norm in norms)
            {
                norm.reset_running_stats();
                norm.momentum = null; // a plain average over the batches, not an exponential one
            }
            model.Module.train();
            using var _ = no_grad();
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                using var quiet = NoGcRegion.Enter();   // TorchSharp's temporary scalars and the collector (NoGcRegion)
                model.Forward(batch);
            }
        }
        finally
        {
            for (var i = 0; i < norms.Count; i++) norms[i].momentum = momenta[i];
            model.Module.eval();
        }
        return norms.Count;
    }
}
