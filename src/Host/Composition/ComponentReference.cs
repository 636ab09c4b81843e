using Microsoft.Extensions.Configuration;

namespace Platform.Host.Composition;

/// <summary>A component named in configuration: its registered name, its Options section, and the section it was written in.</summary>
public sealed record ComponentReference(string Use, IConfigurationSection Options, string Path)
{
    /// <summary>The key that holds the name, for messages.</summary>
    public string UseKey => Path + ":Use";
}
