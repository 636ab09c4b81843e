using System.Buffers.Binary;
using System.Text;
using Platform.Plugins.Interop.PyTorch;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Interop.PyTorch.Tests;

/// <summary>What an import refuses, and how it says so: by file, key and shape.</summary>
public class RefusalTests
{
    private static string Exported(string name, double width = 0.125)
    {
        using var model = Models.PointNet(seed: 1, width);
        var file = Path.Combine(TestPaths.NewTempDirectory("refusals"), name);
        using var _ = NewDisposeScope();
        StateDictFile.Write(file, ExportPyTorchStep.StateDictOf(model, WeightNames.For(model, null, "Convention", [], "Rename", toModel: false)));
        return file;
    }

    private static ImportReport Import(string file, bool allowMissing = false, double width = 0.125)
    {
        using var model = Models.PointNet(seed: 2, width);
        using var _ = NewDisposeScope();
        return WeightImport.Apply(model, StateDictFile.Read(file), WeightNames.For(model, null, "Convention", [], "Rename", toModel: true), allowMissing, file);
    }

    [Test]
    public void A_shape_mismatch_is_refused_naming_both_keys_and_shapes()
    {
        // Width 1/8 makes fc2 32 wide, width 1/4 makes it 64: the classifier reads 32 or 64 features.
        var file = Exported("narrow.pt");
        var error = Assert.Throws<InvalidDataException>(() => Import(file, width: 0.25))!;
        Assert.That(error.Message, Does.StartWith(file));
        Assert.That(error.Message, Does.Contain("89 tensor(s) do not fit").And.Contain("'classifier.linear.weight' [3, 32] -> 'classifier.linear.weight' [3, 64]"));
        Assert.That(error.Message, Does.Contain("Nothing was loaded"));
    }

    [Test]
    public void A_refused_import_leaves_the_model_as_it_was()
    {
        var file = Exported("narrow.safetensors");
        using var model = Models.PointNet(seed: 2, width: 0.25);
        var before = model.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using (NewDisposeScope())
            Assert.Throws<InvalidDataException>(() => WeightImport.Apply(model, StateDictFile.Read(file), WeightNames.For(model, null, "C", [], "R", toModel: true), true, file));
        foreach (var (key, tensor) in model.Module.state_dict()) Assert.That(Models.Same(tensor, before[key]), Is.True, key);
    }

    [Test]
    public void Unmapped_and_missing_keys_are_reported_and_missing_ones_refused_unless_allowed()
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("partial"), "partial.safetensors");
        using (var model = Models.PointNet(seed: 1))
        using (NewDisposeScope())
        {
            var state = ExportPyTorchStep.StateDictOf(model, WeightNames.For(model, null, "C", [], "R", toModel: false));
            state.Remove("classifier.linear.bias");
            state["aux_head.weight"] = ones(5, 2);
            StateDictFile.Write(file, state);
        }

        var refused = Assert.Throws<InvalidDataException>(() => Import(file))!;
        Assert.That(refused.Message, Does.StartWith(file).And.Contain("'classifier.linear.bias'").And.Contain("AllowMissing"));

        var report = Import(file, allowMissing: true);
        Assert.That(report.Missing.Select(m => (m.ModelKey, WeightImport.Shape(m.Shape))), Is.EqualTo(new[] { ("classifier.linear.bias", "[3]") }));
        Assert.That(report.Unmapped.Select(u => (u.FileKey, WeightImport.Shape(u.Shape))), Is.EqualTo(new[] { ("aux_head.weight", "[5, 2]") }));
    }

    [Test]
    public void A_complex_tensor_is_refused_for_a_real_weight()
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("complex"), "complex.pt");
        using (NewDisposeScope())
            StateDictFile.Write(file, new Dictionary<string, Tensor> { ["classifier.linear.bias"] = complex(ones(3), ones(3)) });
        var error = Assert.Throws<InvalidDataException>(() => Import(file, allowMissing: true))!;
        Assert.That(error.Message, Does.StartWith(file).And.Contain("'classifier.linear.bias' ComplexFloat32 -> 'classifier.linear.bias' Float32"));
    }

    [TestCase("garbage.pt")]
    [TestCase("garbage.safetensors")]
    [TestCase("garbage.weights")]
    public void Garbage_is_refused_with_one_message_naming_the_file(string name)
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("garbage"), name);
        File.WriteAllBytes(file, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(file))!;
        Assert.That(error.Message, Does.StartWith(file));
    }

    [TestCase("model.pt")]
    [TestCase("model.safetensors")]
    public void A_truncated_file_is_refused_naming_the_file(string name)
    {
        var file = Exported(name);
        var bytes = File.ReadAllBytes(file);
        foreach (var keep in new[] { 3, 8, 40, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(file, bytes[..keep]);
            var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(file, StateDictFile.ByExtension(file)!.Value), $"cut at {keep} of {bytes.Length} bytes")!;
            Assert.That(error.Message, Does.StartWith(file), $"cut at {keep}");
        }
    }

    [Test]
    public void A_safetensors_header_that_claims_more_than_the_file_holds_is_refused_before_allocating()
    {
        var folder = TestPaths.NewTempDirectory("claims");
        // A shape of 2^20 x 2^20 floats (4 TiB) whose offsets cover 4 bytes.
        var huge = Path.Combine(folder, "huge-shape.safetensors");
        File.WriteAllBytes(huge, Safetensors("""{"w":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4]}}""", new byte[4]));
        Assert.That(Assert.Throws<InvalidDataException>(() => StateDictFile.Read(huge))!.Message,
            Does.StartWith(huge).And.Contain("tensor 'w'").And.Contain("needs 4398046511104 bytes"));

        // A header length of 2^40 bytes in a 100-byte file.
        var header = Path.Combine(folder, "huge-header.safetensors");
        var bytes = new byte[100];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        bytes[8] = (byte)'{';
        File.WriteAllBytes(header, bytes);
        Assert.That(Assert.Throws<InvalidDataException>(() => StateDictFile.Read(header))!.Message, Does.StartWith(header).And.Contain("claims 1099511627776 bytes"));

        // Offsets past the end of the data.
        var offsets = Path.Combine(folder, "offsets.safetensors");
        File.WriteAllBytes(offsets, Safetensors("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]));
        Assert.That(Assert.Throws<InvalidDataException>(() => StateDictFile.Read(offsets))!.Message, Does.Contain("outside the 8 bytes of data"));
    }

    [Test]
    public void A_file_larger_than_MaxBytes_is_refused()
    {
        var file = Exported("big.pt");
        var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(file, maxBytes: 1000))!;
        Assert.That(error.Message, Does.StartWith(file).And.Contain("MaxBytes (1000)"));
    }

    [Test]
    public void A_checkpoint_dict_names_its_entries_and_the_named_one_is_read()
    {
        var file = Path.Combine(TestPaths.NewTempDirectory("checkpoint"), "checkpoint.pt");
        // OpenPCDet's layout: {"model_state": state dict, "epoch": ...}; PyBridge's pickler writes dicts of tensors.
        using (NewDisposeScope())
        {
            var inner = new Dictionary<string, Tensor> { ["w"] = arange(6, ScalarType.Float32).reshape(2, 3) };
            var outer = new System.Collections.Hashtable { ["model_state"] = inner, ["epoch"] = 80 };
            Platform.Abstractions.Kit.AtomicFile.Write(file, s => TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(s, outer, leaveOpen: true));
        }
        var error = Assert.Throws<InvalidDataException>(() => StateDictFile.Read(file))!;
        Assert.That(error.Message, Does.StartWith(file).And.Contain("StateDictKey").And.Contain("'model_state'"));
        using var _ = NewDisposeScope();
        var tensors = StateDictFile.Read(file, entry: "model_state");
        Assert.That(tensors["w"].data<float>().ToArray(), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5 }));
    }

    internal static byte[] Safetensors(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }
}
