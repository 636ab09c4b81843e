using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Platform.Host.Composition;

/// <summary>
/// Which plugin folders outside the host's own <c>artifacts/plugins</c> may run, by content: a plugin's code runs the
/// moment it is loaded (its module's constructor, static initialisers), so a folder passed with --plugins is loaded
/// only when the user has trusted exactly these files with <c>platform plugins trust FOLDER</c>. The record lives in
/// the user's configuration (PLATFORM_TRUSTED_PLUGINS, else $XDG_CONFIG_HOME or ~/.config, then
/// platform/trusted-plugins.json), never in the plugin folder, where whoever wrote the plugin could also write it.
/// The host's own folder is trusted as the host binary is: whoever can change one can change the other.
/// </summary>
public sealed class PluginTrust
{
    /// <summary>Plugin folders bigger than this are not fingerprinted (nor trusted): no folder can make the host hash for minutes.</summary>
    public const long MaxFolderBytes = 2L << 30;

    private sealed record Entry(string Folder, string Sha256, DateTimeOffset Trusted);

    private sealed record TrustFile(int Version, List<Entry> Plugins);

    private readonly Dictionary<string, Entry> _entries;

    private PluginTrust(string file, Dictionary<string, Entry> entries)
    {
        FilePath = file;
        _entries = entries;
    }

    /// <summary>The trust file this store reads and writes.</summary>
    public string FilePath { get; }

    public static string DefaultFile
    {
        get
        {
            if (Environment.GetEnvironmentVariable("PLATFORM_TRUSTED_PLUGINS") is { Length: > 0 } explicitFile) return Path.GetFullPath(explicitFile);
            var config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            return Path.Combine(config, "platform", "trusted-plugins.json");
        }
    }

    /// <summary>Reads the trust file (none yet: nothing trusted); a file that does not parse is an error naming it.</summary>
    public static PluginTrust Load(string? file = null)
    {
        file ??= DefaultFile;
        if (!File.Exists(file)) return new PluginTrust(file, new Dictionary<string, Entry>(StringComparer.Ordinal));
        try
        {
            if (new FileInfo(file).Length > 16 << 20) throw new PlatformException($"{file}: the plugin trust file is over 16 MiB; it cannot be one this host wrote.");
            var parsed = JsonSerializer.Deserialize<TrustFile>(File.ReadAllText(file), Json)
                         ?? throw new PlatformException($"{file}: the plugin trust file is empty (null).");
            return new PluginTrust(file, (parsed.Plugins ?? []).Where(e => e is { Folder: not null, Sha256: not null })
                .GroupBy(e => e.Folder, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal));
        }
        catch (JsonException e)
        {
            throw new PlatformException($"{file}: the plugin trust file is not valid JSON ({e.Message}); fix or delete it, then trust the plugin folders again.");
        }
    }

    /// <summary>Null when the folder's files are the ones trusted; otherwise why it may not load, with the command that trusts it.</summary>
    public string? Refusal(string folder)
    {
        var full = Path.GetFullPath(folder);
        if (!_entries.TryGetValue(full, out var entry))
            return $"not trusted: a plugin's code runs as soon as it loads. Check where it comes from, then run 'platform plugins trust {full}' (trust file: {FilePath})";
        var now = Fingerprint(full, out var problem);
        if (now is null) return problem;
        return now == entry.Sha256 ? null
            : $"its files changed since it was trusted on {entry.Trusted:yyyy-MM-dd HH:mm}Z; check the new build, then run 'platform plugins trust {full}' again";
    }

    /// <summary>Records the folder's current files as trusted and writes the trust file (temporary file, then rename).</summary>
    public string Trust(string folder)
    {
        var full = Path.GetFullPath(folder);
        var hash = Fingerprint(full, out var problem) ?? throw new PlatformException($"{full}: {problem}");
        _entries[full] = new Entry(full, hash, DateTimeOffset.UtcNow);
        Save();
        return hash;
    }

    /// <summary>Removes a folder's trust; false when it was not trusted.</summary>
    public bool Untrust(string folder)
    {
        if (!_entries.Remove(Path.GetFullPath(folder))) return false;
        Save();
        return true;
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        var temporary = FilePath + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temporary, JsonSerializer.Serialize(new TrustFile(1, _entries.Values.OrderBy(e => e.Folder, StringComparer.Ordinal).ToList()), Json));
        File.Move(temporary, FilePath, overwrite: true);
    }

    /// <summary>
    /// SHA-256 over every file under the folder (relative path, length, content; in ordinal path order), so that a
    /// dependency replaced beside the main assembly counts as a change too. Null, with the reason, for a folder that
    /// is missing, too big, or holds a link (a link could point the trusted name at other content later).
    /// </summary>
    public static string? Fingerprint(string folder, out string? problem)
    {
        problem = null;
        if (!Directory.Exists(folder)) { problem = "the folder does not exist"; return null; }
        var files = new List<FileInfo>();
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            if (entry.LinkTarget is not null) { problem = $"it holds a symbolic link ({Path.GetRelativePath(folder, entry.FullName)}); plugin folders with links are not trusted"; return null; }
            if (entry is FileInfo file) files.Add(file);
        }
        if (files.Sum(f => f.Length) > MaxFolderBytes) { problem = $"it holds more than {MaxFolderBytes >> 30} GiB"; return null; }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files.Select(f => (Info: f, Relative: Path.GetRelativePath(folder, f.FullName).Replace('\\', '/'))).OrderBy(f => f.Relative, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{file.Relative}\n{file.Info.Length}\n"));
            using var stream = file.Info.OpenRead();
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
