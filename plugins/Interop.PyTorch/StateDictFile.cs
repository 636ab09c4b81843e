using System.Collections;
using System.IO.Compression;
using System.Reflection;
using Platform.Abstractions.Kit;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Platform.Plugins.Interop.PyTorch;

/// <summary>PyTorch's two state-dict files: torch.save's zip of a pickle and raw storages (.pt, .pth), and safetensors.</summary>
public enum StateDictFormat
{
    /// <summary>Chosen by the file's extension, else by its first bytes.</summary>
    Auto,
    PyTorch,
    Safetensors,
}

/// <summary>Size arithmetic that cannot overflow: a file's claimed shapes are untrusted.</summary>
internal static class StateDictLimits
{
    /// <summary>Bytes of a tensor of <paramref name="shape"/>, or null when that does not fit a long.</summary>
    public static long? Bytes(IEnumerable<long> shape, long elementBytes)
    {
        try
        {
            return shape.Aggregate(elementBytes, (total, size) => checked(total * size));
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}

/// <summary>
/// Reads and writes state dicts (name to tensor) in PyTorch's formats through TorchSharp.PyBridge. Every file read is
/// untrusted: its size is bounded, every tensor's claimed size is checked against the bytes the file really holds before
/// anything is allocated, and whatever goes wrong inside the readers comes out as one message naming the file.
/// </summary>
public static class StateDictFile
{
    private static readonly byte[] ZipSignature = [0x50, 0x4B, 0x03, 0x04];

    /// <summary>Largest data.pkl read: a state dict of ten thousand tensors pickles to about a megabyte.</summary>
    private const long MaxPickleBytes = 64L << 20;

    /// <summary>The format of <paramref name="path"/>: by extension (.pt, .pth, .bin; .safetensors), else by its first bytes.</summary>
    public static StateDictFormat Detect(string path, StateDictFormat requested = StateDictFormat.Auto)
    {
        if (requested != StateDictFormat.Auto) return requested;
        if (ByExtension(path) is { } known) return known;
        using var stream = File.OpenRead(path);
        var head = new byte[9];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read >= 4 && head.AsSpan(0, 4).SequenceEqual(ZipSignature)) return StateDictFormat.PyTorch;
        if (SafetensorsHeader.LooksLike(head.AsSpan(0, read), stream.Length)) return StateDictFormat.Safetensors;
        throw new InvalidDataException($"{path}: neither a PyTorch state dict (torch.save's zip: .pt, .pth) nor a safetensors file; name its Format if the extension misleads.");
    }

    /// <summary>The format an extension names; null for any other.</summary>
    public static StateDictFormat? ByExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".pt" or ".pth" or ".bin" => StateDictFormat.PyTorch,
        ".safetensors" => StateDictFormat.Safetensors,
        _ => null,
    };

    /// <summary>
    /// The tensors of a state dict, on the CPU in the file's dtypes; the caller disposes them.
    /// <paramref name="entry"/> picks the state dict inside a checkpoint dict of a .pt file (OpenPCDet's "model_state",
    /// mmdetection3d's "state_dict"). A file larger than <paramref name="maxBytes"/>, or claiming more, is refused.
    /// </summary>
    /// <exception cref="InvalidDataException">Naming the file, for anything unreadable.</exception>
    public static Dictionary<string, Tensor> Read(string path, StateDictFormat format = StateDictFormat.Auto, string? entry = null, long maxBytes = 4L << 30)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: state dict file not found.", path);
        format = Detect(path, format);
        if (format == StateDictFormat.Safetensors && !string.IsNullOrEmpty(entry))
            throw new InvalidDataException($"{path}: a safetensors file holds one flat state dict; it has no entry '{entry}'.");
        try
        {
            return format == StateDictFormat.Safetensors ? ReadSafetensors(path, maxBytes) : ReadPickle(path, entry, maxBytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException && !(e is InvalidDataException && e.Message.StartsWith(path, StringComparison.Ordinal)))
        {
            // PyBridge, its unpickler and libtorch throw many kinds (PickleException, InvalidCastException,
            // EndOfStreamException, NotImplementedException...): for the user they all mean "this file is damaged".
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            throw new InvalidDataException($"{path}: not a readable {Describe(format)} ({cause.GetType().Name}: {cause.Message}).", e);
        }
    }

    private static string Describe(StateDictFormat format) =>
        format == StateDictFormat.Safetensors ? "safetensors file" : "PyTorch state dict (torch.save zip)";

    private static Dictionary<string, Tensor> ReadSafetensors(string path, long maxBytes)
    {
        using var stream = File.OpenRead(path);
        SafetensorsHeader.Read(stream, path, maxBytes);
        stream.Position = 0;
        return Safetensors.LoadStateDict(stream, leaveOpen: true);
    }

    /// <summary>
    /// torch.save's zip through PyBridge's unpickler, with its tensors left unread (skipTensorRead): each one's declared
    /// shape is checked against the size of the storage it reads before the tensor is allocated.
    /// The unpickler (Razorvine.Pickle) runs no code from the file: a global it does not know becomes an inert
    /// ClassDict, one that wants arguments fails, and it creates no .NET type a file could choose.
    /// </summary>
    private static Dictionary<string, Tensor> ReadPickle(string path, string? entry, long maxBytes)
    {
        using var stream = File.OpenRead(path);
        var storageBytes = CheckArchive(stream, path, maxBytes);
        stream.Position = 0;
        var root = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: true);
        var unread = new List<UnreadTensor>();
        try
        {
            var dictionary = StateDictIn(root, path, entry);
            var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            long claimed = 0;
            foreach (DictionaryEntry item in dictionary)
            {
                if (item.Key is not string name) throw new InvalidDataException($"{path}: the state dict has a key that is not a string ({item.Key}).");
                if (item.Value is Tensor ready)
                {
                    result[name] = ready;
                    continue;
                }
                if (item.Value is null || !UnreadTensor.Is(item.Value)) continue;   // not a tensor: never a weight
                var tensor = new UnreadTensor(item.Value);
                unread.Add(tensor);
                var bytes = StateDictLimits.Bytes(tensor.Shape, ElementBytes(tensor.DType));
                var stored = tensor.ArchiveIndex < storageBytes.Count ? storageBytes[tensor.ArchiveIndex] : -1;
                if (bytes is null || bytes > stored)
                    throw new InvalidDataException($"{path}: tensor '{name}' claims shape [{string.Join(", ", tensor.Shape)}] of {tensor.DType}, more than the {Math.Max(stored, 0)} bytes its storage holds.");
                claimed += bytes.Value;
                if (claimed > maxBytes) throw new InvalidDataException($"{path}: its tensors claim more than the import's MaxBytes ({maxBytes}).");
                result[name] = tensor.Read();
            }
            return result;
        }
        finally
        {
            foreach (var tensor in unread) tensor.Close();
        }
    }

    /// <summary>
    /// Checks the zip before anything is unpickled: its size, its one data.pkl, and the declared (uncompressed) size of
    /// every entry, so that no entry can inflate beyond <paramref name="maxBytes"/>. Returns each entry's size by index.
    /// </summary>
    private static IReadOnlyList<long> CheckArchive(FileStream stream, string path, long maxBytes)
    {
        if (stream.Length > maxBytes) throw new InvalidDataException($"{path}: {stream.Length} bytes is more than the import's MaxBytes ({maxBytes}).");
        var head = new byte[4];
        if (stream.ReadAtLeast(head, 4, throwOnEndOfStream: false) < 4 || !head.AsSpan().SequenceEqual(ZipSignature))
        {
            // torch.save wrote pickles without the zip before PyTorch 1.6 (and with _use_new_zipfile_serialization=False).
            var legacy = head[0] == 0x80;
            throw new InvalidDataException(legacy
                ? $"{path}: saved in PyTorch's legacy (pre-1.6) format, which is not read; save it again with torch.save(model.state_dict(), path) from PyTorch 1.6 or later."
                : $"{path}: not a PyTorch state dict (torch.save writes a zip; this file does not start like one).");
        }
        stream.Position = 0;
        try
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var sizes = archive.Entries.Select(e => e.Length).ToArray();
            var pickles = archive.Entries.Where(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal)).ToList();
            if (pickles.Count != 1) throw new InvalidDataException($"{path}: a torch.save zip holds one data.pkl; this one holds {pickles.Count}.");
            // The pickle holds names and shapes only (the tensors' bytes are entries of their own): a large one is not a state dict.
            if (pickles[0].Length > MaxPickleBytes)
                throw new InvalidDataException($"{path}: its data.pkl unpacks to {pickles[0].Length} bytes; a state dict's is far below {MaxPickleBytes}.");
            long total = 0;
            foreach (var size in sizes)
            {
                total += size;
                if (size < 0 || total > maxBytes) throw new InvalidDataException($"{path}: its entries unpack to more than the import's MaxBytes ({maxBytes}).");
            }
            return sizes;
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: damaged zip ({e.Message}).", e);
        }
    }

    /// <summary>The name-to-tensor dictionary: the file's top level, or its <paramref name="entry"/>.</summary>
    private static IDictionary StateDictIn(Hashtable root, string path, string? entry)
    {
        if (string.IsNullOrEmpty(entry))
        {
            var nested = root.Keys.OfType<string>().Where(k => root[k] is IDictionary).Order(StringComparer.Ordinal).ToArray();
            if (nested.Length > 0 && !root.Values.Cast<object?>().Any(v => v is Tensor || v is not null && UnreadTensor.Is(v)))
                throw new InvalidDataException($"{path}: holds a checkpoint dict, not a state dict: name the entry with the weights as StateDictKey (it has {string.Join(", ", nested.Select(k => $"'{k}'"))}).");
            return root;
        }
        return root[entry] as IDictionary
               ?? throw new InvalidDataException($"{path}: has no dictionary entry '{entry}' (its entries: {string.Join(", ", root.Keys.OfType<string>().Order(StringComparer.Ordinal).Select(k => $"'{k}'"))}).");
    }

    private static long ElementBytes(ScalarType type)
    {
        using var probe = empty(0, type);
        return probe.ElementSize;
    }

    /// <summary>
    /// A tensor PyBridge's unpickler left unread: its internal TensorConstructorArgs, read through reflection because
    /// PyBridge offers no public way to see a declared shape before the tensor is allocated. Pinned to PyBridge 1.4.4
    /// (the csproj); a version that changes the type fails here by name, not with a wrong import.
    /// </summary>
    private sealed class UnreadTensor(object args)
    {
        private const string TypeName = "TensorConstructorArgs";

        public static bool Is(object value) => value.GetType().Name == TypeName;

        public long[] Shape => Get<long[]>("Shape");
        public ScalarType DType => Get<ScalarType>("DType");
        public int ArchiveIndex => Get<int>("ArchiveIndex");

        public Tensor Read() =>
            (Tensor)(args.GetType().GetMethod("ReadTensorFromStream")?.Invoke(args, null) ?? throw Changed("ReadTensorFromStream"));

        /// <summary>Closes the archive entry PyBridge opened for the tensor (read or not).</summary>
        public void Close()
        {
            try
            {
                Get<Stream>("Data").Dispose();
            }
            catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        private T Get<T>(string property) =>
            args.GetType().GetProperty(property, BindingFlags.Public | BindingFlags.Instance)?.GetValue(args) is T value ? value : throw Changed(property);

        private static InvalidOperationException Changed(string member) =>
            new($"TorchSharp.PyBridge's {TypeName} has no {member}: the plugin is built for PyBridge 1.4.4.");
    }

    /// <summary>Writes <paramref name="tensors"/> atomically in the format <paramref name="path"/>'s extension names (.pt, .pth, .bin; .safetensors).</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, StateDictFormat format = StateDictFormat.Auto)
    {
        if (format == StateDictFormat.Auto)
            format = ByExtension(path) ?? throw new ArgumentException($"{path}: the extension names no state-dict format (.pt, .pth or .safetensors).");
        // Contiguous CPU copies at storage offset 0: both writers write a tensor's own bytes.
        using var scope = NewDisposeScope();
        var copies = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous().clone(), StringComparer.Ordinal);
        AtomicFile.Write(path, stream =>
        {
            if (format == StateDictFormat.Safetensors) Safetensors.SaveStateDict(stream, copies, leaveOpen: true);
            else PyTorchPickler.PickleStateDict(stream, copies, leaveOpen: true);
        });
    }

    /// <summary>Whether <paramref name="path"/> starts as a file of <paramref name="format"/> does (what an export may replace).</summary>
    public static bool LooksLike(string path, StateDictFormat format)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var head = new byte[9];
            var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return format == StateDictFormat.Safetensors
                ? SafetensorsHeader.LooksLike(head.AsSpan(0, read), stream.Length)
                : read >= 4 && head.AsSpan(0, 4).SequenceEqual(ZipSignature);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
