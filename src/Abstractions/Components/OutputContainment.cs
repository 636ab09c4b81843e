namespace Platform.Abstractions.Components;

/// <summary>Where a run may write: below one root folder, chosen by the person who runs the platform, not by the pipeline file.</summary>
public static class OutputContainment
{
    /// <summary>The full path of <paramref name="path"/>, or an error naming <paramref name="key"/> when it is not below <paramref name="root"/> (null: anywhere).</summary>
    public static string Check(string path, string? root, string key)
    {
        var full = Path.GetFullPath(path);
        if (root is null || IsWithin(full, root)) return full;
        throw new UnauthorizedAccessException(
            $"{key}: {full} is outside the output root {Path.GetFullPath(root)}; a pipeline writes only below the folder the platform runs in, " +
            "unless the command line names another root (--output-root DIR).");
    }

    public static bool IsWithin(string fullPath, string root)
    {
        var r = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return fullPath.Equals(r, comparison) || fullPath.StartsWith(r + Path.DirectorySeparatorChar, comparison);
    }
}
