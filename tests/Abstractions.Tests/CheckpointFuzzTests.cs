using Platform.Abstractions.Kit;
using Platform.TestKit;
using static TorchSharp.torch;

namespace Platform.Abstractions.Tests;

/// <summary>A mutated checkpoint loads or fails with an InvalidDataException that names the file: no other exception, no hang (issue 15).</summary>
public class CheckpointFuzzTests
{
    [Test]
    public void Mutated_checkpoints_load_or_are_refused_by_name()
    {
        var folder = TestPaths.NewTempDirectory("fuzz-checkpoint");
        var valid = Path.Combine(folder, "valid.ckpt");
        using (var model = new TinyConvModel())
        {
            var conv = model.PrunableLayers.First();
            model.Masks.Set(conv, conv.Weight.abs().gt(0.1));
            Checkpoint.Save(model, valid);
        }
        ReaderFuzz.Check<InvalidDataException>("mutated.ckpt", File.ReadAllBytes(valid), 300, seed: 11, file =>
        {
            using var target = new TinyConvModel();
            Checkpoint.ReadHeader(file);
            Checkpoint.LoadInto(target, file);
        });
    }
}
