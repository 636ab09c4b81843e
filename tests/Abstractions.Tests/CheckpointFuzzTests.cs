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

    [Test]
    public void A_header_length_whose_encoding_never_ends_is_refused_by_name()
    {
        // A variant the fuzz test above produced (its valid checkpoint holds random weights, so its variants differ from run
        // to run): magic, version, then a string length prefix of six bytes with the continuation bit set. It threw
        // FormatException from BinaryReader.ReadString.
        var path = Path.Combine(TestPaths.NewTempDirectory("checkpoint-length"), "damaged.ckpt");
        File.WriteAllBytes(path, Convert.FromBase64String("UENLUAEAAAC52NXXpgF7IlNwZWMiOnsiVXNlIjoidGlueSIsIk9wdGlzb24iOiJ7fSIsIkRhdGFzZXQACr2ch9W+RiDuvlIZuj7eUIC+VofHPgjTcj6EMfe+"));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadHeader(path));
        Assert.That(error!.Message, Does.Contain(path).And.Contain("header is damaged"));
    }
}
