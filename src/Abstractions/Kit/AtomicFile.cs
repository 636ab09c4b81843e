namespace Platform.Abstractions.Kit;

/// <summary>
/// Writes a file under a temporary name in the same folder and renames it into place, so a crash or
/// an error mid-write never leaves a truncated file where a good one was.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) => Write(path, write, checkBeforeReplacing: null);

    /// <summary>
    /// As <see cref="Write(string, Action{Stream})"/>, and <paramref name="checkBeforeReplacing"/> reads the finished temporary
    /// file (its path) before the rename: when it throws, nothing is replaced and the temporary file is removed.
    /// </summary>
    public static void Write(string path, Action<Stream> write, Action<string>? checkBeforeReplacing)
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
            checkBeforeReplacing?.Invoke(temporary);
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
