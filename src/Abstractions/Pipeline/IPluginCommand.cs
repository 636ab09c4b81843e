namespace Platform.Abstractions.Pipeline;

/// <summary>
/// A command a plugin adds to the <c>platform</c> CLI (data generation, standalone evaluation...).
/// The host builds it with its options bound from the command line and calls <see cref="Run"/>; a command that works on
/// models asks for an <see cref="IComponentFactory"/> in its constructor (it has no pipeline context to get one from).
/// </summary>
public interface IPluginCommand
{
    /// <returns>The process exit code: 0 for success.</returns>
    int Run();
}
