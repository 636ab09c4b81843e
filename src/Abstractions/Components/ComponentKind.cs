namespace Platform.Abstractions.Components;

/// <summary>The kinds of component a plugin can register; each maps to one contract interface.</summary>
public enum ComponentKind
{
    Dataset,
    Model,
    Evaluator,
    PointTransform,
    Compressor,
    Step,
    Command,
}

/// <summary>
/// What the host knows about a registered component without creating it: enough to list it
/// (<c>platform plugins</c>), describe its options (<c>platform describe</c>) and bind a pipeline step to it.
/// </summary>
public sealed record ComponentDescriptor(
    ComponentKind Kind,
    string Name,
    Type ImplementationType,
    Type OptionsType,
    string Description)
{
    /// <summary>The contract interface instances of this kind implement.</summary>
    public Type ServiceType => ServiceTypeOf(Kind);

    /// <summary>What the container knows this component's registration by: its name and its implementation.</summary>
    public (string Name, Type Implementation) Key => (Name, ImplementationType);

    public static Type ServiceTypeOf(ComponentKind kind) => kind switch
    {
        ComponentKind.Dataset => typeof(Data.IDataset),
        ComponentKind.Model => typeof(Models.IModel),
        ComponentKind.Evaluator => typeof(Pipeline.IEvaluator),
        ComponentKind.PointTransform => typeof(Data.IPointTransform),
        ComponentKind.Compressor => typeof(Pipeline.ICompressor),
        ComponentKind.Step => typeof(Pipeline.IPipelineStep),
        ComponentKind.Command => typeof(Pipeline.IPluginCommand),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
