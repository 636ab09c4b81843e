namespace Platform.TestKit;

/// <summary>Where things are, seen from a test: the repository root, shared data, a fresh temporary folder.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The team's shared folder beside the checkout (CI lays it there too).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string KittiSample => Path.Combine(Shared, "data", "kitti-sample");

    public static string NewTempDirectory(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), "platform-tests", purpose + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Tests must run from inside the repository (no Platform.sln above " + AppContext.BaseDirectory + ").");
    }
}
