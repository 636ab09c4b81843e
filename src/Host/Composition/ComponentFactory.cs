using System.Text.Json;
using Autofac;
using Autofac.Core;
using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Abstractions.Data;
using Platform.Abstractions.Kit;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;
using Platform.Host.Configuration;
using TorchSharp;

namespace Platform.Host.Composition;

/// <summary>
/// One run's factory, and the one place that creates components: options bound by the registry, then the instance
/// resolved from Autofac with the options, the run's <see cref="RunServices"/> and, for a model, its
/// <see cref="DatasetInfo"/> as typed parameters. <paramref name="pipelineModel"/> is the pipeline's Model section,
/// laid over a checkpoint's saved options by <see cref="LoadPipelineModel"/>.
/// </summary>
public sealed class ComponentFactory(ComponentRegistry registry, ILifetimeScope container, RunServices services, ComponentReference? pipelineModel = null)
    : IComponentFactory
{
    public T Create<T>(string use, string useKey, IConfigurationSection? options, DatasetInfo? dataset = null) where T : class =>
        Create<T>(registry.Bind(registry.Find(use, useKey, ComponentRegistry.KindsOf(typeof(T))), options), dataset);

    public T Create<T>(BoundComponent component, DatasetInfo? dataset = null) where T : class
    {
        var (descriptor, options) = component;
        var label = $"{ComponentRegistry.KindLabel(descriptor.Kind)} '{descriptor.Name}'";
        if (descriptor.Kind == ComponentKind.Model && dataset is null)
            throw new ArgumentException($"{label} is built for a dataset; none was given.", nameof(dataset));
        // The factory itself too: a plugin command has no pipeline context, and one that works on models builds them with it.
        List<Parameter> parameters =
        [
            new TypedParameter(descriptor.OptionsType, options), new TypedParameter(typeof(RunServices), services),
            new TypedParameter(typeof(IComponentFactory), this),
        ];
        if (dataset is not null) parameters.Add(new TypedParameter(typeof(DatasetInfo), dataset));
        try
        {
            return (T)container.ResolveKeyed(descriptor.Key, descriptor.ServiceType, parameters);
        }
        catch (DependencyResolutionException e)
        {
            var cause = e.InnerException;
            while (cause is DependencyResolutionException { InnerException: { } inner }) cause = inner;
            if (cause is PlatformException platform) throw platform;
            if (cause is ArgumentException or InvalidOperationException or IOException or InvalidDataException or UnauthorizedAccessException or KeyNotFoundException)
                throw new PlatformException($"{label}: {cause.Message}", cause);
            throw new PlatformException($"{label} could not be created: {(cause ?? e).Message}", cause ?? e);
        }
    }

    public IModel CreateModel(string use, string? optionsJson, DatasetInfo dataset)
    {
        var descriptor = registry.Find(use, "model", ComponentKind.Model);
        return Create<IModel>(new BoundComponent(descriptor, SavedOptions(descriptor, optionsJson)), dataset);
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
            if (pipelineModel is { } p && registry.Find(p.Use, p.UseKey, ComponentKind.Model).Name != descriptor.Name)
                throw new PlatformException($"{checkpointPath} holds a '{descriptor.Name}' model, the pipeline's model is '{p.Use}' ({p.UseKey}). " +
                    "Set the load step's AllowModelChange: true to replace the pipeline's model with it.");
            // A pipeline that sets options for its model means them (a score threshold, say); they were silently
            // ignored when the checkpoint's saved options alone rebuilt the model.
            laid = pipelineModel is not null && pipelineModel.Options.GetChildren().Any();
        }
        if (laid)
            options = OptionsBinder.Bind(descriptor.OptionsType, pipelineModel!.Options, $"model '{descriptor.Name}' (over the options saved in {checkpointPath})", options);
        var model = Create<IModel>(new BoundComponent(descriptor, options), header.Spec.Dataset);
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
