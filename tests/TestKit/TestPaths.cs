using System.Diagnostics;

namespace Platform.TestKit;

/// <summary>Where things are, seen from a test: the repository root, shared data, a fresh temporary folder.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The team's shared folder beside the checkout (CI lays it there too).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string KittiSample => Path.Combine(Shared, "data", "kitti-sample");

    private static readonly Lazy<string> SessionRoot = new(CreateSessionRoot);

    /// <summary>This test process's scratch folder: every NewTempDirectory lies below it (tests run the platform with it as --output-root).</summary>
    public static string ScratchRoot => SessionRoot.Value;

    /// <summary>
    /// A new folder under this test process's own scratch folder. The scratch folder is deleted when the process
    /// exits, and a later test process deletes those of processes that died first: one pipeline test writes
    /// hundreds of MB of synthetic KITTI, and kept folders once filled the disk and failed CI.
    /// </summary>
    public static string NewTempDirectory(string purpose)
    {
        var path = Path.Combine(SessionRoot.Value, purpose + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Deletes this process's scratch folder if it was made (the assemblies' last fixture calls it).</summary>
    public static void DeleteScratch()
    {
        if (SessionRoot.IsValueCreated) TryDelete(SessionRoot.Value);
    }

    private static string CreateSessionRoot()
    {
        var parent = Path.Combine(Path.GetTempPath(), "platform-tests");
        Directory.CreateDirectory(parent);
        DeleteFoldersOfDeadProcesses(parent);
        var root = Path.Combine(parent, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    /// <summary>Session folders are named "pid-tag"; one whose process no longer runs was left by a crash or a kill.</summary>
    private static void DeleteFoldersOfDeadProcesses(string parent)
    {
        foreach (var folder in Directory.EnumerateDirectories(parent))
        {
            var name = Path.GetFileName(folder);
            var dash = name.IndexOf('-');
            if (dash <= 0 || !int.TryParse(name[..dash], out var pid) || IsRunning(pid)) continue;
            TryDelete(folder);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still open (Windows) or a race with another cleaner leaves the folder for the next run.
        }
        catch (UnauthorizedAccessException)
        {
        }
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
