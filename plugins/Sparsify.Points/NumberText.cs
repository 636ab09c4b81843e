using System.Globalization;

namespace Platform.Plugins.Sparsify.Points;

/// <summary>Option values as a transform's description prints them.</summary>
internal static class NumberText
{
    public static string Format(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    // Options are floats: format them as floats, so 70.4f reads "70.4", not its double expansion 70.400002.
    public static string Format(float value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
