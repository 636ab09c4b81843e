using static TorchSharp.torch;

namespace Platform.Abstractions.Models;

/// <summary>
/// Optional for models whose forward pass is a chain of stages, each a function of the state the stage before it
/// left (a few tensors) and of the batch. A measurement that changes the weights of one layer only (a rate-distortion
/// curve: one layer pruned to each of several levels) then runs the stages before that layer's once, keeps the state
/// entering its stage, and runs only the rest of the network for each level (issue 10 §1: "cache each layer's input so
/// only the rest of the network runs"). The staged pass must compute exactly what <see cref="IModel.Forward"/> computes.
/// </summary>
public interface IStagedForward : IModel
{
    int StageCount { get; }

    /// <summary>
    /// The stage that reads the weights of prunable layer <paramref name="layer"/>: no stage before it does, so the state
    /// entering it does not depend on them. -1 when the model cannot say (the whole pass runs).
    /// </summary>
    int StageOf(string layer);

    /// <summary>Runs stages [0, <paramref name="stage"/>) on the batch: the state entering <paramref name="stage"/> (empty for 0).</summary>
    IReadOnlyList<Tensor> Enter(int stage, ModelBatch batch);

    /// <summary>Runs stages [<paramref name="stage"/>, StageCount) from the state <see cref="Enter"/> gave: the model's output.</summary>
    ModelOutput ForwardFrom(int stage, IReadOnlyList<Tensor> state, ModelBatch batch);
}
