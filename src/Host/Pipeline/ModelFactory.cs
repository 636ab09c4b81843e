using System.Text.Json;
using Autofac;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using TorchSharp;

namespace Platform.Host.Pipeline;

/// <summary>Builds models by component name at run time (load a checkpoint, build a student).</summary>
public sealed class ModelFactory(ComponentRegistry registry, RunServices services) : IComponentFactory
{
    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset)
    {
        var descriptor = registry.Find(use, "model", ComponentKind.Model);
        object options;
        try
        {
            options = optionsJson is null
                ? Activator.CreateInstance(descriptor.OptionsType)!
                : JsonSerializer.Deserialize(optionsJson, descriptor.OptionsType)!;
        }
        catch (JsonException e)
        {
            throw new PlatformException($"model '{use}': options {optionsJson} do not fit {descriptor.OptionsType.Name}: {e.Message}", e);
        }
        return Create(descriptor, options, dataset);
    }

    public IModel Create(ComponentDescriptor descriptor, object options, DatasetInfo dataset) =>
        registry.Create<IModel>(descriptor, options, new TypedParameter(typeof(DatasetInfo), dataset), new TypedParameter(typeof(RunServices), services));

    public IModel LoadModel(string checkpointPath)
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
        var model = CreateModel(header.Spec.Use, header.Spec.OptionsJson, header.Spec.Dataset);
        try
        {
            Checkpoint.LoadInto(model, checkpointPath);
            model.Module.to(services.Device);
        }
        catch (InvalidDataException e)
        {
            model.Dispose();
            throw new PlatformException(e.Message, e);
        }
        return model;
    }
}
