using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

/// <summary>
/// The safetensors layout (huggingface/safetensors, "Format"): an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON mapping each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets into the data that
/// follows the header) and an optional "__metadata__" map of strings, then the raw little-endian data.
/// PyBridge's reader trusts the header (it allocates each declared shape and a header of up to 2 GB before reading),
/// so every claim is checked here against the file's own length first.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The format's own limit on the header (the reference implementation refuses larger ones).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    public const string Metadata = "__metadata__";

    /// <summary>Element sizes of the dtypes PyBridge reads, by their safetensors names.</summary>
    public static readonly IReadOnlyDictionary<string, (ScalarType Type, int Bytes)> DTypes = new Dictionary<string, (ScalarType, int)>(StringComparer.Ordinal)
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2), ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4), ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1), ["BOOL"] = (ScalarType.Bool, 1),
    };

    public sealed record Entry(string Name, string DType, long[] Shape, long Begin, long End);

    /// <summary>Whether the first bytes read as a safetensors header length that fits the file and a JSON object opening.</summary>
    public static bool LooksLike(ReadOnlySpan<byte> head, long fileLength) =>
        head.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && n <= (ulong)Math.Max(0, fileLength - 8) && head[8] == (byte)'{';

    /// <summary>The header's tensor entries, each checked: a known dtype, a shape of non-negative sizes, offsets inside the data whose length is the shape's bytes.</summary>
    /// <exception cref="InvalidDataException">Naming <paramref name="path"/> and, where there is one, the tensor.</exception>
    public static IReadOnlyList<Entry> Read(Stream stream, string path, long maxBytes)
    {
        var length = stream.Length;
        if (length < 8) throw new InvalidDataException($"{path}: {length} bytes is too short for a safetensors file (it starts with an 8-byte header length).");
        if (length > maxBytes) throw new InvalidDataException($"{path}: {length} bytes is more than the import's MaxBytes ({maxBytes}).");
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(length - 8) || headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: the safetensors header claims {headerLength} bytes; the file has {length - 8} after the length (and headers are at most {MaxHeaderBytes}).");
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        var dataLength = length - 8 - (long)headerLength;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not JSON ({e.Message}).", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: the safetensors header is a JSON {document.RootElement.ValueKind}, not an object of tensors.");
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name)) throw new InvalidDataException($"{path}: tensor '{property.Name}' appears twice in the safetensors header.");
                if (property.Name == Metadata) continue;
                entries.Add(ReadEntry(property, path, dataLength));
            }
            return entries;
        }
    }

    private static Entry ReadEntry(JsonProperty property, string path, long dataLength)
    {
        var name = property.Name;
        InvalidDataException Bad(string why) => new($"{path}: tensor '{name}': {why}.");
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object) throw Bad("its header entry is not an object");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String) throw Bad("no dtype");
        var dtype = dtypeElement.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var type))
            throw Bad($"dtype {dtype} cannot be read (readable: {string.Join(", ", DTypes.Keys)})");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array) throw Bad("no shape");
        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var size in shapeElement.EnumerateArray())
        {
            if (size.ValueKind != JsonValueKind.Number || !size.TryGetInt64(out var s) || s < 0) throw Bad($"shape {shapeElement.GetRawText()} is not a list of sizes");
            shape[i++] = s;
        }
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end))
            throw Bad("data_offsets is not [begin, end]");
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] lie outside the {dataLength} bytes of data");
        var bytes = StateDictLimits.Bytes(shape, type.Bytes) ?? throw Bad($"shape [{string.Join(", ", shape)}] is too large");
        if (bytes != end - begin) throw Bad($"shape [{string.Join(", ", shape)}] of {dtype} needs {bytes} bytes, its data_offsets give {end - begin}");
        return new Entry(name, dtype, shape, begin, end);
    }
}
