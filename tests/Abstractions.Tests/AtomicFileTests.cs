using Platform.Abstractions.Kit;

namespace Platform.Abstractions.Tests;

public class AtomicFileTests
{
    [Test]
    public void A_check_that_throws_replaces_nothing_and_leaves_no_temporary_file()
    {
        var folder = Platform.TestKit.TestPaths.NewTempDirectory("atomic");
        var path = Path.Combine(folder, "model.bin");
        File.WriteAllText(path, "good");
        string? checkedPath = null;

        Assert.Throws<InvalidDataException>(() => AtomicFile.Write(path, s => s.Write("bad"u8),
            written => { checkedPath = written; Assert.That(File.ReadAllText(written), Is.EqualTo("bad")); throw new InvalidDataException("no"); }));

        Assert.That(File.ReadAllText(path), Is.EqualTo("good"));
        Assert.That(checkedPath, Is.Not.EqualTo(path));
        Assert.That(Directory.GetFiles(folder), Is.EqualTo(new[] { path }));
        AtomicFile.Write(path, s => s.Write("new"u8), written => Assert.That(File.ReadAllText(written), Is.EqualTo("new")));
        Assert.That(File.ReadAllText(path), Is.EqualTo("new"));
    }
}
