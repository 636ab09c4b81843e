using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using Platform.Abstractions.Components;

namespace Platform.Host.Configuration;

/// <summary>
/// An options class documents itself: its property names, types and initial values, [Description] and [Range] are
/// what <c>platform plugins</c>, <c>platform describe</c> and a plugin command's --help show, read here, beside the
/// binder that enforces the same attributes.
/// </summary>
public static class OptionsDocumentation
{
    public sealed record OptionRow(string Name, string Type, string Default, string Allowed, string Description);

    public static IEnumerable<OptionRow> Rows(Type optionsType)
    {
        var defaults = Activator.CreateInstance(optionsType);
        foreach (var p in OptionsBinder.SettableProperties(optionsType).Values)
        {
            var range = p.GetCustomAttribute<RangeAttribute>();
            var allowed = range is not null ? $"{range.Minimum} to {range.Maximum}"
                : (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType).IsEnum ? string.Join(" | ", Enum.GetNames(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType))
                : p.GetCustomAttribute<RequiredAttribute>() is not null ? "required" : "";
            yield return new OptionRow(p.Name, OptionsBinder.FriendlyName(p.PropertyType), OptionsBinder.Describe(p.GetValue(defaults)), allowed,
                p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "");
        }
    }

    /// <summary>An example use of the component with its default options: a pipeline entry, or a command line.</summary>
    public static string Example(ComponentDescriptor d)
    {
        var options = JsonSerializer.Serialize(Activator.CreateInstance(d.OptionsType), d.OptionsType, new JsonSerializerOptions { WriteIndented = true });
        var entry = $"{{ \"Use\": \"{d.Name}\", \"Options\": {options.Replace("\n", "\n  ")} }}";
        return d.Kind switch
        {
            ComponentKind.Dataset => $"\"Dataset\": {entry}",
            ComponentKind.Model => $"\"Model\": {entry}",
            ComponentKind.Evaluator => $"{{ \"Use\": \"evaluate\", \"Options\": {{ \"Evaluator\": \"{d.Name}\" }} }}",
            ComponentKind.Command => $"platform {d.Name} " + string.Join(" ", Rows(d.OptionsType).Select(o => $"--{CommandLineName(o.Name)} <{o.Type}>")),
            _ => $"\"Steps\": [ {entry} ]",
        };
    }

    /// <summary>An option's name on a plugin command's command line: MaxSamples is --max-samples.</summary>
    public static string CommandLineName(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 && !char.IsUpper(name[i - 1]) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
