using System.Text.Json;
using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Host.Configuration;
using TorchSharp;

namespace Platform.Host.Pipeline;

/// <summary>
/// Builds models by component name at run time (load a checkpoint, build a student). <paramref name="pipelineModel"/>
/// is the pipeline's Model section, laid over a checkpoint's saved options by <see cref="LoadPipelineModel"/>.
/// </summary>
public sealed class ModelFactory(ComponentRegistry registry, RunServices services, ComponentReference? pipelineModel = null) : IComponentFactory
{
    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset)
    {
        var descriptor = registry.Find(use, "model", ComponentKind.Model);
        return Create(descriptor, SavedOptions(descriptor, optionsJson), dataset);
    }

    private static object SavedOptions(ComponentDescriptor descriptor, string? optionsJson)
    {
        try
        {
            return optionsJson is null
                ? Activator.CreateInstance(descriptor.OptionsType)!
                : JsonSerializer.Deserialize(optionsJson, descriptor.OptionsType)!;
        }
        catch (JsonException e)
        {
            throw new PlatformException($"model '{descriptor.Name}': options {optionsJson} do not fit {descriptor.OptionsType.Name}: {e.Message}", e);
        }
    }

    public IModel Create(ComponentDescriptor descriptor, object options, DatasetInfo dataset) =>
        registry.Create<IModel>(descriptor, options, new TypedParameter(typeof(DatasetInfo), dataset), new TypedParameter(typeof(RunServices), services));

    public IModel LoadModel(string checkpointPath) => Load(checkpointPath, pipelineDataset: null);

    public IModel LoadPipelineModel(string checkpointPath, DatasetInfo dataset) => Load(checkpointPath, dataset);

    /// <summary>With <paramref name="pipelineDataset"/>: as the pipeline's model (<see cref="IComponentFactory.LoadPipelineModel"/>).</summary>
    private IModel Load(string checkpointPath, DatasetInfo? pipelineDataset)
    {
        if (!File.Exists(checkpointPath)) throw new PlatformException($"{checkpointPath}: checkpoint not found.");
        Checkpoint.Header header;
        try
        {
            header = Checkpoint.ReadHeader(checkpointPath);
        }
        catch (InvalidDataException e)
        {
            throw new PlatformException(e.Message, e);
        }
        var descriptor = registry.Find(header.Spec.Use, "model", ComponentKind.Model);
        var options = SavedOptions(descriptor, header.Spec.OptionsJson);
        var laid = false;
        if (pipelineDataset is not null)
        {
            // A checkpoint of another model or other classes gave AP 0 or chance accuracy with status ok (issue 15 §4).
            if (!header.Spec.Dataset.ClassNames.SequenceEqual(pipelineDataset.ClassNames))
                throw new PlatformException(ModelSpec.ClassMismatch(checkpointPath, header.Spec.Dataset, pipelineDataset));
            if (pipelineModel is { } p && registry.Find(p.Use, p.Path + ":Use", ComponentKind.Model).Name != descriptor.Name)
                throw new PlatformException($"{checkpointPath} holds a '{descriptor.Name}' model, the pipeline's model is '{p.Use}' ({p.Path}:Use). " +
                    "Set the load step's AllowModelChange: true to replace the pipeline's model with it.");
            // A pipeline that sets options for its model means them (a score threshold, say); they were silently
            // ignored when the checkpoint's saved options alone rebuilt the model.
            laid = pipelineModel is not null && pipelineModel.Options.GetChildren().Any();
        }
        if (laid)
            options = OptionsBinder.Bind(descriptor.OptionsType, pipelineModel!.Options, $"model '{descriptor.Name}' (over the options saved in {checkpointPath})", options);
        var model = Create(descriptor, options, header.Spec.Dataset);
        try
        {
            Checkpoint.LoadInto(model, checkpointPath);
            model.Module.to(services.Device);
        }
        catch (InvalidDataException e)
        {
            model.Dispose();
            throw new PlatformException(laid
                ? $"{e.Message} ({pipelineModel!.Options.Path} was laid over the options the checkpoint was saved with; an option there changes the model's shape)"
                : e.Message, e);
        }
        return model;
    }
}
