namespace Platform.Abstractions.Components;

/// <summary>The options class of a component that has none.</summary>
public sealed class NoOptions;
