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

    public IModel LoadModel(string checkpointPath) => Load(checkpointPath, layPipelineOptions: false);

    public IModel LoadPipelineModel(string checkpointPath) => Load(checkpointPath, layPipelineOptions: true);

    private IModel Load(string checkpointPath, bool layPipelineOptions)
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
        // A pipeline that names the checkpoint's model and sets options means them (a score threshold, say); without
        // this they were silently ignored, since the checkpoint's saved options rebuild the model.
        var laid = layPipelineOptions && pipelineModel is { } p && p.Options.GetChildren().Any()
            && registry.Find(p.Use, p.Path + ":Use", ComponentKind.Model).Name == descriptor.Name;
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
