namespace Platform.Abstractions.Models;

/// <summary>
/// A model whose weights can also be named the way a well-known implementation names them (the PyTorch code the
/// method was published with, say), so that its state dicts import and export without hand-written renames.
/// Optional: the interop steps read it where a pipeline names a convention.
/// </summary>
public interface IKnownWeightNames
{
    /// <summary>The conventions this model knows, by the names a pipeline gives them (e.g. "openpcdet").</summary>
    IReadOnlyList<string> WeightNameConventions { get; }

    /// <summary>
    /// This model's state-dict keys, each with the name <paramref name="convention"/> gives it, for the model as it is
    /// built (its widths and options). A table rather than patterns, so that it reads both ways: imports rename the
    /// convention's names to the model's, exports the model's to the convention's. Keys absent keep their names.
    /// </summary>
    IReadOnlyDictionary<string, string> ConventionNames(string convention);
}
