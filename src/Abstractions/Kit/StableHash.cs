namespace Platform.Abstractions.Kit;

/// <summary>
/// Hashes that are the same in every process (string.GetHashCode is randomised per process, which
/// would make per-sample seeds, and so whole runs, irreproducible).
/// </summary>
public static class StableHash
{
    public static int Of(string text)
    {
        unchecked
        {
            var hash = 2166136261u; // FNV-1a
            foreach (var c in text)
            {
                hash = (hash ^ c) * 16777619u;
            }
            return (int)(hash & int.MaxValue);
        }
    }

    public static int Combine(params int[] values)
    {
        unchecked
        {
            var hash = 2166136261u;
            foreach (var v in values)
            {
                hash = (hash ^ (uint)v) * 16777619u;
            }
            return (int)(hash & int.MaxValue);
        }
    }
}
