using Autofac;
using Platform.Abstractions.Data;
using Platform.Abstractions.Models;
using Platform.Abstractions.Pipeline;

namespace Platform.Abstractions.Components;

/// <summary>
/// How a plugin's Autofac module registers its components: keyed by a stable name, together with a
/// descriptor that names the options class. The host creates the component with its bound options
/// passed as a typed parameter, so a component's constructor simply asks for its options class
/// (and, where it needs them, <see cref="RunServices"/>, <see cref="DatasetInfo"/> and the run's <see cref="IComponentFactory"/>).
/// </summary>
public static class ComponentRegistration
{
    public static void RegisterDataset<TDataset, TOptions>(this ContainerBuilder builder, string name, string description)
        where TDataset : IDataset where TOptions : class, new()
        => builder.Register<IDataset, TDataset, TOptions>(ComponentKind.Dataset, name, description);

    public static void RegisterModel<TModel, TOptions>(this ContainerBuilder builder, string name, string description)
        where TModel : IModel where TOptions : class, new()
        => builder.Register<IModel, TModel, TOptions>(ComponentKind.Model, name, description);

    public static void RegisterEvaluator<TEvaluator, TOptions>(this ContainerBuilder builder, string name, string description)
        where TEvaluator : IEvaluator where TOptions : class, new()
        => builder.Register<IEvaluator, TEvaluator, TOptions>(ComponentKind.Evaluator, name, description);

    public static void RegisterPointTransform<TTransform, TOptions>(this ContainerBuilder builder, string name, string description)
        where TTransform : IPointTransform where TOptions : class, new()
        => builder.Register<IPointTransform, TTransform, TOptions>(ComponentKind.PointTransform, name, description);

    public static void RegisterCompressor<TCompressor, TOptions>(this ContainerBuilder builder, string name, string description)
        where TCompressor : ICompressor where TOptions : class, new()
        => builder.Register<ICompressor, TCompressor, TOptions>(ComponentKind.Compressor, name, description);

    public static void RegisterStep<TStep, TOptions>(this ContainerBuilder builder, string name, string description)
        where TStep : IPipelineStep where TOptions : class, new()
        => builder.Register<IPipelineStep, TStep, TOptions>(ComponentKind.Step, name, description);

    /// <summary>
    /// A CLI command contributed by a plugin, e.g. "eval-kitti" or "data kitti-synth" (a space makes a
    /// sub-command). Its options class is bound from the command line's --Name value pairs.
    /// </summary>
    public static void RegisterCommand<TCommand, TOptions>(this ContainerBuilder builder, string name, string description)
        where TCommand : IPluginCommand where TOptions : class, new()
        => builder.Register<IPluginCommand, TCommand, TOptions>(ComponentKind.Command, name, description);

    private static void Register<TService, TImplementation, TOptions>(
        this ContainerBuilder builder, ComponentKind kind, string name, string description)
        where TImplementation : TService where TService : notnull where TOptions : class, new()
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A component needs a name.", nameof(name));
        // The pipeline owns what it creates (models hold native tensors), so the container must not dispose them.
        // Keyed by the descriptor, not the name alone: two plugins (or a plugin and a built-in) may share a name, and the
        // host's registry decides which one a pipeline gets; a name key would hand out whichever registered last.
        var descriptor = new ComponentDescriptor(kind, name, typeof(TImplementation), typeof(TOptions), description);
        builder.RegisterType<TImplementation>().Keyed<TService>(descriptor.Key).ExternallyOwned();
        builder.RegisterInstance(descriptor);
    }
}
