using System.Globalization;

namespace Platform.Plugins.Sparsify.Points;

/// <summary>
/// Constructor-time checks of a transform's options. [Range] documents the bounds for
/// <c>platform describe</c>; these make a bad value fail at once, naming the component and the option.
/// </summary>
internal static class OptionCheck
{
    public static void Positive(string component, string option, double value)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(option, value, $"{component}: option {option} must be a finite number > 0 (got {Format(value)}).");
    }

    public static void AtLeast(string component, string option, double value, double min)
    {
        if (!(value >= min) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(option, value, $"{component}: option {option} must be a finite number >= {Format(min)} (got {Format(value)}).");
    }

    /// <summary>min &lt; value &lt;= max, e.g. a keep ratio in (0, 1].</summary>
    public static void InHalfOpen(string component, string option, double value, double min, double max)
    {
        if (!(value > min && value <= max))
            throw new ArgumentOutOfRangeException(option, value, $"{component}: option {option} must be in ({Format(min)}, {Format(max)}] (got {Format(value)}).");
    }

    public static void InClosed(string component, string option, double value, double min, double max)
    {
        if (!(value >= min && value <= max))
            throw new ArgumentOutOfRangeException(option, value, $"{component}: option {option} must be in [{Format(min)}, {Format(max)}] (got {Format(value)}).");
    }

    public static void Ordered(string component, string minOption, double? min, string maxOption, double? max)
    {
        if (min is { } lo && max is { } hi && !(lo < hi))
            throw new ArgumentException($"{component}: option {minOption} ({Format(lo)}) must be less than {maxOption} ({Format(hi)}).");
    }

    public static string Format(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    // Options are floats: format them as floats, so 70.4f reads "70.4", not its double expansion 70.400002.
    public static string Format(float value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
