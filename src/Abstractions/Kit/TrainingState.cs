using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// What a training run needs beyond the weights to go on from an epoch checkpoint exactly as if it had not stopped:
/// the optimiser's moments, torch's random state, the history so far, and a fingerprint of the settings that made it
/// (a resume with other settings would silently train something else). Written beside each epoch-NNNN.ckpt.
/// </summary>
internal sealed class TrainingState
{
    public const int Format = 1;

    public int Version { get; set; } = Format;
    public int Epoch { get; set; }
    public string Fingerprint { get; set; } = "";
    public List<double> EpochLoss { get; set; } = [];
    public List<Dictionary<string, double>> EpochTerms { get; set; } = [];
    public List<double> EpochRate { get; set; } = [];

    public static string CheckpointPath(string folder, int epoch) => Path.Combine(folder, $"epoch-{epoch:D4}.ckpt");
    /// <summary>The weight average at the end of that epoch (runs with WeightAverageDecay), saved as a checkpoint.</summary>
    public static string AveragePath(string folder, int epoch) => Path.Combine(folder, $"epoch-{epoch:D4}.average.ckpt");
    private static string StatePath(string folder, int epoch) => Path.Combine(folder, $"epoch-{epoch:D4}.state.json");
    private static string OptimizerPath(string folder, int epoch) => Path.Combine(folder, $"epoch-{epoch:D4}.optimizer");
    private static string RandomPath(string folder, int epoch) => Path.Combine(folder, $"epoch-{epoch:D4}.rng");

    /// <summary>The settings a resumed run must share with the one it continues.</summary>
    public static string FingerprintOf(TrainOptions options, int seed, int samples, int parameters) => string.Join(";",
        $"seed={seed}", $"samples={samples}", $"parameters={parameters}", $"epochs={options.Epochs}", $"batch={options.BatchSize}",
        $"lr={options.LearningRate.ToString("R", CultureInfo.InvariantCulture)}", $"decay={options.WeightDecay.ToString("R", CultureInfo.InvariantCulture)}",
        $"clip={options.GradientClip.ToString("R", CultureInfo.InvariantCulture)}", $"schedule={options.Schedule}", $"split={options.Split}", $"every={options.CheckpointEvery}")
        // Named only when set, so that runs from before the option resume as they did.
        + (options.WeightAverageDecay > 0 ? $";average={options.WeightAverageDecay.ToString("R", CultureInfo.InvariantCulture)}" : "");

    /// <summary>Writes the state files (the checkpoint itself is written by the caller); the JSON last, so its presence means all are whole.</summary>
    public void Save(string folder, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        AtomicFile.Write(OptimizerPath(folder, Epoch), stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.save_state_dict(writer);
        });
        using (var rng = TorchSharp.torch.random.get_rng_state())
            AtomicFile.WriteAllBytes(RandomPath(folder, Epoch), rng.data<byte>().ToArray());
        AtomicFile.WriteAllText(StatePath(folder, Epoch), JsonSerializer.Serialize(this));
    }

    /// <summary>The latest epoch in <paramref name="folder"/> with a checkpoint and a whole state, or null.</summary>
    public static TrainingState? Latest(string folder)
    {
        if (!Directory.Exists(folder)) return null;
        var epoch = Directory.EnumerateFiles(folder, "epoch-*.state.json")
            .Select(f => Path.GetFileName(f)["epoch-".Length..^".state.json".Length])
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var e) ? e : -1)
            .Where(e => e > 0 && File.Exists(CheckpointPath(folder, e)) && File.Exists(OptimizerPath(folder, e)) && File.Exists(RandomPath(folder, e)))
            .DefaultIfEmpty(0)
            .Max();
        if (epoch == 0) return null;
        var path = StatePath(folder, epoch);
        TrainingState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a training state ({e.Message}).", e);
        }
        if (state is null || state.Version != Format || state.Epoch != epoch || state.EpochLoss.Count != epoch)
            throw new InvalidDataException($"{path}: not a training state of format {Format} for epoch {epoch}.");
        return state;
    }

    /// <summary>Restores the optimiser's moments and torch's random state saved with this epoch.</summary>
    public void Restore(string folder, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        using (var stream = File.OpenRead(OptimizerPath(folder, Epoch)))
        using (var reader = new BinaryReader(stream))
            optimizer.load_state_dict(reader);
        var bytes = File.ReadAllBytes(RandomPath(folder, Epoch));
        using var rng = tensor(bytes, ScalarType.Byte);
        TorchSharp.torch.random.set_rng_state(rng);
    }
}
