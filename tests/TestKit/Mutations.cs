using System.Text;

namespace Platform.TestKit;

/// <summary>
/// Seeded mutations of a valid input for reader fuzz tests: byte flips, truncations, duplicated or deleted slices,
/// random bytes, and the textual values that break parsers (nan, inf, 1e999, huge integers, empty fields).
/// </summary>
public static class Mutations
{
    private static readonly string[] Poison = ["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "99999999999999999999", "", " ", "\t", "\0", "é", "--", "0x1F", "1,5", ":"];

    public static IEnumerable<byte[]> Of(byte[] valid, int count, int seed)
    {
        var random = new Random(seed);
        for (var n = 0; n < count; n++)
        {
            var bytes = valid.ToList();
            var edits = 1 + random.Next(4);
            for (var e = 0; e < edits && bytes.Count > 0; e++)
            {
                var at = random.Next(bytes.Count);
                switch (random.Next(6))
                {
                    case 0:
                        bytes[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 1:
                        bytes.RemoveRange(at, bytes.Count - at);
                        break;
                    case 2:
                        var length = Math.Min(1 + random.Next(64), bytes.Count - at);
                        bytes.InsertRange(at, bytes.GetRange(at, length));
                        break;
                    case 3:
                        bytes.RemoveRange(at, Math.Min(1 + random.Next(16), bytes.Count - at));
                        break;
                    case 4:
                        var noise = new byte[1 + random.Next(16)];
                        random.NextBytes(noise);
                        bytes.InsertRange(at, noise);
                        break;
                    default:
                        // Replace the token around `at` (up to the next space or newline) with a poison value.
                        var end = at;
                        while (end < bytes.Count && bytes[end] is not ((byte)' ' or (byte)'\n')) end++;
                        bytes.RemoveRange(at, end - at);
                        bytes.InsertRange(at, Encoding.UTF8.GetBytes(Poison[random.Next(Poison.Length)]));
                        break;
                }
            }
            yield return bytes.ToArray();
        }
    }
}

/// <summary>Feeds a reader mutated files: each must read or fail with <typeparamref name="TRefusal"/> naming the file.</summary>
public static class ReaderFuzz
{
    /// <returns>How many variants were read and how many refused.</returns>
    public static (int Read, int Refused) Check<TRefusal>(string fileName, byte[] valid, int variants, int seed, Action<string> read)
        where TRefusal : Exception =>
        CheckAt<TRefusal>(Path.Combine(TestPaths.NewTempDirectory("fuzz-" + Path.GetFileNameWithoutExtension(fileName)), fileName), valid, variants, seed, read);

    /// <summary>
    /// The same with each variant written to <paramref name="path"/> (a file inside a dataset's folder, say).
    /// <paramref name="names"/> says whether a refusal's message names the input (default: it contains the path).
    /// </summary>
    public static (int Read, int Refused) CheckAt<TRefusal>(string path, byte[] valid, int variants, int seed, Action<string> read, Func<string, bool>? names = null)
        where TRefusal : Exception
    {
        names ??= message => message.Contains(path, StringComparison.Ordinal);
        var fileName = Path.GetFileName(path);
        int parsed = 0, refused = 0;
        foreach (var (bytes, index) in Mutations.Of(valid, variants, seed).Select((b, i) => (b, i)))
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                read(path);
                parsed++;
            }
            catch (TRefusal e)
            {
                Assert.That(names(e.Message), Is.True, $"variant {index} of {fileName}: the message names the input: {e.Message}");
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"variant {index} of {fileName} threw {e.GetType().Name}: {e.Message}\ninput (base64): {Convert.ToBase64String(bytes)}");
            }
        }
        TestContext.Out.WriteLine($"{fileName}: {parsed} read, {refused} refused");
        Assert.That(refused, Is.GreaterThan(0), "the mutations reach the checks");
        return (parsed, refused);
    }
}
