using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;

namespace Platform.Abstractions.Pipeline;

/// <summary>
/// Creates components by their registered name: the only way a step gets one (the run's factory is
/// <see cref="PipelineContext.Components"/>). The host's factory binds a component's options as strictly as it binds
/// a pipeline file's, so a step that creates what it needs in <see cref="IPipelineStep.Prepare"/> has a wrong name or
/// option stop the run before its first step.
/// </summary>
public interface IComponentFactory
{
    /// <summary>
    /// The component registered as <paramref name="use"/> among the kinds whose contract is <typeparamref name="T"/>
    /// (<see cref="IDataset"/>, <see cref="IModel"/>, <see cref="IEvaluator"/>, <see cref="IPointTransform"/>,
    /// <see cref="ICompressor"/>, <see cref="IPipelineStep"/>, <see cref="IPluginCommand"/>), with its options bound from
    /// <paramref name="options"/> (absent: the defaults). An unknown name fails naming the key <paramref name="useKey"/>;
    /// an unknown option or a bad value, naming its own key. A model is built for <paramref name="dataset"/>.
    /// </summary>
    /// <remarks>Factories that stand in for the host's (tests, benchmarks) build models only and may leave this out.</remarks>
    T Create<T>(string use, string useKey, IConfigurationSection? options, DatasetInfo? dataset = null) where T : class =>
        throw new NotSupportedException($"{GetType().Name} builds models only; it cannot create the {typeof(T).Name} '{use}' ({useKey}).");

    /// <summary>Builds a model by component name from options saved as JSON (a checkpoint's, a teacher's); null means defaults.</summary>
    IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset);

    /// <summary>Rebuilds the model a checkpoint was saved from and loads its weights and masks.</summary>
    IModel LoadModel(string checkpointPath);

    /// <summary>
    /// The checkpoint as the pipeline's model: refused when it was trained on other classes than
    /// <paramref name="dataset"/>'s or holds another model than the pipeline's Model names; the pipeline's Model:Options
    /// are laid over the options it was saved with (settings that do not shape the weights, such as a detector's score
    /// threshold, take the pipeline's values; one that does fails the load). Factories without a pipeline model only
    /// check the classes.
    /// </summary>
    IModel LoadPipelineModel(string checkpointPath, DatasetInfo dataset)
    {
        var model = LoadModel(checkpointPath);
        if (!model.Spec.Dataset.ClassNames.SequenceEqual(dataset.ClassNames))
        {
            model.Dispose();
            throw new InvalidDataException(ModelSpec.ClassMismatch(checkpointPath, model.Spec.Dataset, dataset));
        }
        return model;
    }
}
