namespace Platform.Abstractions.Components;

/// <summary>
/// Options that start from a named preset, a whole configuration kept as data. The host's binder reads the section's
/// <c>Preset</c> key first, starts from <see cref="FromPreset"/> of it and lays the section's other keys over that, so a
/// pipeline names a preset and only what it changes. A class's property defaults are its default preset.
/// </summary>
public interface IPresetOptions
{
    /// <summary>The preset these options started from.</summary>
    string Preset { get; }

    /// <summary>Every preset's name (for messages).</summary>
    IReadOnlyList<string> PresetNames();

    /// <summary>New options holding preset <paramref name="name"/>'s values; null when there is no such preset.</summary>
    object? FromPreset(string name);
}
