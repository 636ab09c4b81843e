using TorchSharp;

namespace Platform.Abstractions.Kit;

/// <summary>One seed fixes a run on CPU: torch's generator, and every System.Random derived from it.</summary>
public static class Seeding
{
    public static void Seed(int seed)
    {
        torch.manual_seed(seed);
        torch.random.manual_seed(seed);
    }

    /// <summary>A Random for one named purpose, independent of how many other Randoms were made before.</summary>
    public static Random Random(int seed, string purpose) => new(StableHash.Combine(seed, StableHash.Of(purpose)));
}
