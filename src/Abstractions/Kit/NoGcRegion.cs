using System.Runtime;

namespace Platform.Abstractions.Kit;

/// <summary>
/// Keeps the garbage collector out of one training or inference step.
/// Why: TorchSharp creates temporary <c>Scalar</c>s inside some calls (for example the implicit
/// alpha of <c>Tensor.add(Scalar)</c>) and never disposes them, so a collection that starts while
/// the native call is running can finalize the scalar the call is reading ("Unknown scalar type"
/// from c10/core/Scalar.h after tens of training steps; TorchSharp pull request 1434 is the upstream
/// fix). With no collection during the step there is no such window. If the step allocates more than
/// the budget, the runtime collects anyway and this region simply ends early.
/// </summary>
public readonly struct NoGcRegion : IDisposable
{
    private const long Budget = 192L * 1024 * 1024;
    private readonly bool _entered;

    private NoGcRegion(bool entered) => _entered = entered;

    public static NoGcRegion Enter()
    {
        try
        {
            var entered = GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(Budget);
            // Starting the region collects, and the finalizers of what that collection found would otherwise run on the
            // finalizer thread during the step, releasing native objects while the step's native calls run (training
            // turned NaN at a step that depended on allocation timing). Run them now, before the step.
            if (entered) GC.WaitForPendingFinalizers();
            return new NoGcRegion(entered);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException)
        {
            return new NoGcRegion(false);
        }
    }

    public void Dispose()
    {
        if (!_entered || GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // The step outgrew the budget and a collection already ended the region.
        }
    }
}
