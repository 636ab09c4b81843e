using Platform.Abstractions.Components;

namespace Platform.Host.Pipeline;

/// <summary>The kit's output containment as the host's own error: the runner's output folder and the save step's path share it.</summary>
public static class ContainedPaths
{
    /// <summary>The full path of <paramref name="path"/>; a PlatformException naming <paramref name="key"/> when it lies outside <paramref name="root"/>.</summary>
    public static string Check(string path, string? root, string key)
    {
        try
        {
            return OutputContainment.Check(path, root, key);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new PlatformException(e.Message, e);
        }
    }
}
