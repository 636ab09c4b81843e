namespace Platform.Abstractions.Kit;

/// <summary>
/// Writes a file under a temporary name in the same folder and renames it into place, so a crash or
/// an error mid-write never leaves a truncated file where a good one was.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s); w.Write(text); });

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));
}
