namespace Platform.Abstractions.Kit;

/// <summary>
/// The order in which models timed against each other run, round by round: 0, 1, ... in even rounds and the reverse in
/// odd ones (A B, B A, A B, ...). Whatever running first or second costs (caches the other model left cold, a frequency
/// step, a collection) then falls on every model equally. Timing the reference always first read a dense model against
/// itself at 0.88-0.90x on a 2-core VM; in turns, 1.00 (bench/results/channel-speed-idle-vm.md and its notes).
/// </summary>
public static class AlternatingOrder
{
    /// <summary>The indices 0 to count - 1 in the order round <paramref name="round"/> runs them.</summary>
    public static int[] Of(int round, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = Enumerable.Range(0, count).ToArray();
        if (round % 2 == 1) Array.Reverse(order);
        return order;
    }
}
