using Platform.Plugins.Interop.PyTorch;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>
/// Files written without PyBridge and read without it: python3's standard library (no PyTorch) writes safetensors from
/// its documented layout and torch.save's zip (a protocol-2 pickle whose tensors are persistent ids naming raw storages),
/// and reads what the export wrote. Interop with the real formats, not only with ourselves.
/// </summary>
public class IndependentFilesTests
{
    /// <summary>torch.save's layout: archive/data.pkl pickles an OrderedDict of torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, requires_grad, hooks), each storage a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel) whose bytes are archive/data/KEY, stored uncompressed.</summary>
    private const string WriteBoth = """
import collections, json, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
def _rebuild_tensor_v2(*args): pass
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
_rebuild_tensor_v2.__module__ = "torch._utils"
for name in ("FloatStorage", "LongStorage", "DoubleStorage"):
    cls = type(name, (), {}); cls.__module__ = "torch"; setattr(torch, name, cls)

tensors = [("layer.weight", "F32", "f", torch.FloatStorage, [2, 3], [0.5, -1.0, 2.0, 3.25, -4.5, 6.0]),
           ("layer.num_batches_tracked", "I64", "q", torch.LongStorage, [], [42]),
           ("layer.running_var", "F64", "d", torch.DoubleStorage, [3], [1.5, 2.5, 0.125])]

class Storage:
    def __init__(self, key, cls, count): self.key, self.cls, self.count = key, cls, count
class Tensor:
    def __init__(self, storage, shape): self.storage, self.shape = storage, shape
    def __reduce__(self):
        stride = [1] * len(self.shape)
        for i in range(len(self.shape) - 2, -1, -1): stride[i] = stride[i + 1] * self.shape[i + 1]
        return (_rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))
class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", obj.cls, obj.key, "cpu", obj.count) if isinstance(obj, Storage) else None

# A variant, when asked: "claims" declares 2^20 x 2^20 floats over a storage of six; "system" pickles a call of os.system.
variant = sys.argv[3] if len(sys.argv) > 3 else ""
class Shell:
    def __reduce__(self):
        import os
        return (os.system, ("echo unpickled > " + sys.argv[1] + ".ran",))

state = collections.OrderedDict()
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    for i, (name, _, code, cls, shape, values) in enumerate(tensors):
        z.writestr(f"archive/data/{i}", struct.pack("<%d%s" % (len(values), code), *values))
        declared = [1 << 20, 1 << 20] if variant == "claims" and i == 0 else shape
        state[name] = Tensor(Storage(str(i), cls, len(values)), declared)
    if variant == "system": state["layer.hook"] = Shell()
    import io; buffer = io.BytesIO(); Pickler(buffer, protocol=2).dump(state)
    z.writestr("archive/data.pkl", buffer.getvalue())
    z.writestr("archive/version", "3\n")

header, data = {"__metadata__": {"format": "pt"}}, b""
for name, dtype, code, _, shape, values in tensors:
    raw = struct.pack("<%d%s" % (len(values), code), *values)
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)   # the reference writer pads the header to 8 bytes
with open(sys.argv[2], "wb") as f: f.write(struct.pack("<Q", len(text)) + text + data)
""";

    private const string ReadSafetensors = """
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
codes = {"F32": "f", "F64": "d", "I64": "q"}
for name in sorted(k for k in header if k != "__metadata__"):
    e = header[name]; b, end = e["data_offsets"]; code = codes[e["dtype"]]
    values = struct.unpack("<%d%s" % ((end - b) // struct.calcsize(code), code), data[b:end])
    print(name, e["dtype"], e["shape"], " ".join(repr(v) for v in values))
""";

    private static string Python(string script, params string[] arguments)
    {
        var folder = TestPaths.NewTempDirectory("python");
        var file = Path.Combine(folder, "script.py");
        File.WriteAllText(file, script);
        var result = ChildProcess.Run("python3", [file, .. arguments]);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.ToString());
        return result.Output;
    }

    [Test]
    public void Files_written_by_python_without_pytorch_read_as_the_values_written()
    {
        var folder = TestPaths.NewTempDirectory("independent");
        string pt = Path.Combine(folder, "python.pth"), safetensors = Path.Combine(folder, "python.safetensors");
        Python(WriteBoth, pt, safetensors);

        foreach (var file in new[] { pt, safetensors })
        {
            using var _ = NewDisposeScope();
            var tensors = StateDictFile.Read(file);
            Assert.That(tensors.Keys, Is.EquivalentTo(new[] { "layer.weight", "layer.num_batches_tracked", "layer.running_var" }), file);
            Assert.That(tensors["layer.weight"].shape, Is.EqualTo(new long[] { 2, 3 }), file);
            Assert.That(tensors["layer.weight"].dtype, Is.EqualTo(ScalarType.Float32), file);
            Assert.That(tensors["layer.weight"].data<float>().ToArray(), Is.EqualTo(new[] { 0.5f, -1.0f, 2.0f, 3.25f, -4.5f, 6.0f }), file);
            Assert.That(tensors["layer.num_batches_tracked"].dtype, Is.EqualTo(ScalarType.Int64), file);
            Assert.That(tensors["layer.num_batches_tracked"].item<long>(), Is.EqualTo(42), file);
            Assert.That(tensors["layer.running_var"].data<double>().ToArray(), Is.EqualTo(new[] { 1.5, 2.5, 0.125 }), file);
        }
    }

    [Test]
    public void A_pickled_tensor_that_claims_more_than_its_storage_holds_is_refused_before_allocating()
    {
        var folder = TestPaths.NewTempDirectory("claims");
        string pt = Path.Combine(folder, "claims.pth"), safetensors = Path.Combine(folder, "unused.safetensors");
        Python(WriteBoth, pt, safetensors, "claims");

        var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(pt))!;

        Assert.That(error.Message, Does.StartWith(pt).And.Contain("tensor 'layer.weight' claims shape [1048576, 1048576] of Float32, more than the 24 bytes its storage holds"));
    }

    [Test]
    public void A_pickle_that_calls_a_function_is_refused_and_runs_nothing()
    {
        var folder = TestPaths.NewTempDirectory("system");
        string pt = Path.Combine(folder, "system.pth"), safetensors = Path.Combine(folder, "unused.safetensors");
        Python(WriteBoth, pt, safetensors, "system");

        var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(pt))!;

        Assert.That(error.Message, Does.StartWith(pt).And.Contain("PickleException"));
        Assert.That(File.Exists(pt + ".ran"), Is.False, "os.system ran");
    }

    [Test]
    public void An_exported_safetensors_file_reads_in_python_as_the_models_values()
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("exported"), "exported.safetensors");
        using (NewDisposeScope())
        {
            var state = new Dictionary<string, Tensor>
            {
                ["conv.weight"] = tensor(new[] { 0.5f, -1.0f, 2.0f, 3.25f }).reshape(2, 2, 1),
                ["norm.num_batches_tracked"] = tensor(7L),
            };
            StateDictFile.Write(file, state);
        }

        var lines = Python(ReadSafetensors, file).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.That(lines, Is.EqualTo(new[] { "conv.weight F32 [2, 2, 1] 0.5 -1.0 2.0 3.25", "norm.num_batches_tracked I64 [] 7" }));
    }
}
