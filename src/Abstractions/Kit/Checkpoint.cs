using System.Text;
using System.Text.Json;
using Platform.Abstractions.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Platform.Abstractions.Kit;

/// <summary>
/// A model checkpoint: one file holding the spec (component name, options, dataset info) so the
/// architecture can be rebuilt, the module's state and the weight masks.
/// Layout: magic "PCKP", format version, JSON header, TorchSharp state dict, mask count, masks.
/// </summary>
public static class Checkpoint
{
    private const uint Magic = 0x504B4350; // "PCKP"
    private const int FormatVersion = 1;

    /// <param name="ParameterType">The floating dtype of the saved parameters (float32 where absent: checkpoints before it was recorded).</param>
    public sealed record Header(ModelSpec Spec, IReadOnlyDictionary<string, double> Metadata, string? ParameterType = null);

    /// <summary>SHA-256 of a file as lowercase hex: what reports record to say which checkpoint a figure came from.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    public static void Save(IModel model, string path, IReadOnlyDictionary<string, double>? metadata = null)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(JsonSerializer.Serialize(new Header(model.Spec, metadata ?? new Dictionary<string, double>(), ParameterTypeOf(model.Module)?.ToString())));
            model.Module.save(writer);
            writer.Write(model.Masks.Count);
            foreach (var (layer, mask) in model.Masks.Entries())
            {
                writer.Write(layer);
                using var cpu = mask.to_type(ScalarType.Float32).cpu();
                cpu.Save(writer);
            }
        });
    }

    /// <summary>Whether the file is a checkpoint this build reads: its header parses (what a save may replace).</summary>
    public static bool IsCheckpoint(string path)
    {
        try
        {
            ReadHeader(path);
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reads only the header: which model to build before <see cref="LoadInto"/>.</summary>
    public static Header ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        return ReadHeader(reader, path);
    }

    /// <summary>Loads state and masks into a model built from the header's spec.</summary>
    public static void LoadInto(IModel model, string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        var header = ReadHeader(reader, path);
        if (header.Spec.Use != model.Spec.Use)
            throw new InvalidDataException($"{path}: checkpoint holds a '{header.Spec.Use}' model, not '{model.Spec.Use}'.");
        // TorchSharp loads only into tensors of the saved dtype: the state goes into the module on the CPU, where the
        // bytes are read, in the saved dtype, and the module returns to its device afterwards. (The "empty handle" failure
        // of cuda loads was a stale prunable-layer view after the move: ModelBase.PrunableLayers.)
        var device = model.Module.parameters().FirstOrDefault()?.device ?? CPU;
        var saved = SavedParameterType(header, path);
        try
        {
            model.Module.to(CPU);
            if (ParameterTypeOf(model.Module) is { } current && current != saved) model.Module.to(saved);
            model.Module.load(reader, strict: true);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: checkpoint is truncated in its weights.", e);
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            throw new InvalidDataException($"{path}: the saved weights do not fit the model built from its options ({e.Message}).", e);
        }
        model.Masks.Clear();
        var layers = model.PrunableLayers.ToDictionary(l => l.Name);
        try
        {
            var count = reader.ReadInt32();
            if (count < 0 || count > layers.Count)
                throw new InvalidDataException($"{path}: {count} masks for a model with {layers.Count} prunable layers.");
            for (var i = 0; i < count; i++)
            {
                var name = reader.ReadString();
                if (!layers.TryGetValue(name, out var layer))
                    throw new InvalidDataException($"{path}: mask for unknown layer '{name}'.");
                using var mask = Tensor.Load(reader);
                model.Masks.Set(layer, mask);
            }
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            // Found by the checkpoint fuzz test: a damaged mask section threw EndOfStreamException and others.
            model.Masks.Clear();
            throw new InvalidDataException($"{path}: the masks are damaged or truncated ({e.GetType().Name}: {e.Message}).", e);
        }
        finally
        {
            model.Module.to(device);
        }
    }

    /// <summary>The dtype of the module's floating parameters (null for a module without any).</summary>
    private static ScalarType? ParameterTypeOf(nn.Module module) =>
        module.parameters().Select(p => p.dtype).Where(torch.is_floating_point).Cast<ScalarType?>().FirstOrDefault();

    private static ScalarType SavedParameterType(Header header, string path)
    {
        if (header.ParameterType is null) return ScalarType.Float32;
        if (Enum.TryParse<ScalarType>(header.ParameterType, out var type) && torch.is_floating_point(type)) return type;
        throw new InvalidDataException($"{path}: the header names the parameter type '{header.ParameterType}', which is not a floating dtype.");
    }

    private static Header ReadHeader(BinaryReader reader, string path)
    {
        try
        {
            if (reader.ReadUInt32() != Magic) throw new InvalidDataException($"{path}: not a platform checkpoint.");
            var version = reader.ReadInt32();
            if (version != FormatVersion) throw new InvalidDataException($"{path}: checkpoint format {version}, this build reads {FormatVersion}.");
            return JsonSerializer.Deserialize<Header>(reader.ReadString())
                   ?? throw new InvalidDataException($"{path}: empty checkpoint header.");
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: checkpoint is truncated.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or DecoderFallbackException or FormatException)
        {
            // A damaged header (found by the checkpoint fuzz test: a zero byte inside the JSON; a length prefix whose
            // 7-bit encoding never ends, FormatException).
            throw new InvalidDataException($"{path}: the checkpoint header is damaged ({e.Message}).", e);
        }
    }
}
