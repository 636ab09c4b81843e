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
        var file = Path.Combine(folder, "mutated.ckpt");
        int loaded = 0, refused = 0;
        foreach (var (bytes, index) in Mutations.Of(File.ReadAllBytes(valid), 300, seed: 11).Select((b, i) => (b, i)))
        {
            File.WriteAllBytes(file, bytes);
            using var target = new TinyConvModel();
            try
            {
                Checkpoint.ReadHeader(file);
                Checkpoint.LoadInto(target, file);
                loaded++;
            }
            catch (InvalidDataException e)
            {
                Assert.That(e.Message, Does.Contain(file), $"variant {index}: the message names the file");
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"variant {index} threw {e.GetType().Name}: {e.Message}");
            }
        }
        TestContext.Out.WriteLine($"checkpoint: {loaded} loaded, {refused} refused");
        Assert.That(refused, Is.GreaterThan(0));
    }
}
