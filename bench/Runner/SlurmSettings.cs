using System.Globalization;
using System.Text.RegularExpressions;
using Platform.Host;

namespace Platform.Bench;

/// <summary>
/// What each task of a Slurm job array asks for: the bench file's <c>Bench:Slurm</c> section, then the command line's
/// flags over it. Every value becomes an #SBATCH line, so each is checked against the form Slurm takes, and a bad or
/// unknown key is refused naming where it came from.
/// </summary>
public sealed record SlurmSettings
{
    public string? Partition { get; init; }
    public string? Account { get; init; }
    /// <summary>GPUs per task, requested as generic resources (--gres=gpu:N, or gpu:TYPE:N); 0: none asked.</summary>
    public int Gpus { get; init; }
    public string? GpuType { get; init; }
    public int CpusPerTask { get; init; } = 1;
    /// <summary>Wall-clock limit per task in a form sbatch takes (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS).</summary>
    public string? Time { get; init; }
    /// <summary>Memory per node (per task here: one task per node), e.g. 4G or 4000 (MB).</summary>
    public string? Memory { get; init; }
    /// <summary>At most this many tasks of the array at once (--array=...%N); null: as many as the cluster gives.</summary>
    public int? MaxRunning { get; init; }

    /// <summary>The bench-runner flag for each key (the keys are the Bench:Slurm section's).</summary>
    public static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>
    {
        ["--partition"] = "Partition",
        ["--account"] = "Account",
        ["--gpus"] = "Gpus",
        ["--gpu-type"] = "GpuType",
        ["--cpus-per-task"] = "CpusPerTask",
        ["--time"] = "Time",
        ["--mem"] = "Memory",
        ["--max-running"] = "MaxRunning",
    };

    private static readonly Regex Name = new("^[A-Za-z0-9_.-]{1,64}$");
    private static readonly Regex Partitions = new("^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64}){0,15}$");
    private static readonly Regex TimeLimit = new(@"^(\d{1,6}|\d{1,6}:\d{1,2}|\d{1,6}:\d{1,2}:\d{1,2}|\d{1,4}-\d{1,2}|\d{1,4}-\d{1,2}:\d{1,2}|\d{1,4}-\d{1,2}:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$");
    private static readonly Regex MemoryAmount = new("^[1-9][0-9]{0,8}[KMGT]?$");

    /// <summary>
    /// The settings from (key, value, source) entries, later entries winning: the bench file's section first, then flags.
    /// Source names the entry in messages (Bench:Slurm:Gpus, or the flag --gpus).
    /// </summary>
    public static SlurmSettings From(IEnumerable<(string Key, string Value, string Source)> entries)
    {
        var settings = new SlurmSettings();
        foreach (var (key, value, source) in entries)
        {
            string Check(Regex form, string what) => form.IsMatch(value) ? value
                : throw new PlatformException($"{source}: '{value}' is not {what}.");
            int Whole(int low, int high) => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= low && n <= high ? n
                : throw new PlatformException($"{source}: '{value}' is not a whole number from {low} to {high}.");
            settings = key.ToLowerInvariant() switch
            {
                "partition" => settings with { Partition = Check(Partitions, "a partition name (letters, digits, '_', '.', '-'; several separated by ',')") },
                "account" => settings with { Account = Check(Name, "an account name (letters, digits, '_', '.', '-')") },
                "gpus" => settings with { Gpus = Whole(0, 64) },
                "gputype" => settings with { GpuType = Check(Name, "a GPU type (letters, digits, '_', '.', '-'), e.g. a100") },
                "cpuspertask" => settings with { CpusPerTask = Whole(1, 4096) },
                "time" => settings with { Time = Check(TimeLimit, "a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)") },
                "memory" => settings with { Memory = Check(MemoryAmount, "an amount of memory (a whole number of MB, or with K, M, G or T: 4G)") },
                "maxrunning" => settings with { MaxRunning = Whole(1, 100000) },
                _ => throw new PlatformException($"{source}: unknown key; a Slurm section has {string.Join(", ", Flags.Values)}."),
            };
        }
        if (settings.GpuType is not null && settings.Gpus == 0)
            throw new PlatformException("Slurm: GpuType is set but Gpus is 0: say how many GPUs each task needs.");
        return settings;
    }

    /// <summary>The #SBATCH options these settings give (the array, output and folder options are the sweep's).</summary>
    public IEnumerable<string> SbatchOptions()
    {
        if (Partition is not null) yield return $"--partition={Partition}";
        if (Account is not null) yield return $"--account={Account}";
        if (Gpus > 0) yield return GpuType is null ? $"--gres=gpu:{Gpus}" : $"--gres=gpu:{GpuType}:{Gpus}";
        yield return $"--cpus-per-task={CpusPerTask}";
        if (Time is not null) yield return $"--time={Time}";
        if (Memory is not null) yield return $"--mem={Memory}";
    }
}
