using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;

namespace Platform.Host.Configuration;

/// <summary>
/// An options class documents itself: its property names, types and initial values, [Description] and [Range] are
/// what <c>platform plugins</c>, <c>platform describe</c> and a plugin command's --help show, read here, beside the
/// binder that enforces the same attributes.
/// </summary>
public static class OptionsDocumentation
{
    public sealed record OptionRow(string Name, string Type, string Default, string Allowed, string Description);

    /// <summary>One row per option; a nested part of the options (a model's backbone, say) gets a row, then one per option of its own, as Part:Option.</summary>
    public static IEnumerable<OptionRow> Rows(Type optionsType) => Rows(optionsType, Activator.CreateInstance(optionsType), "");

    private static IEnumerable<OptionRow> Rows(Type optionsType, object? defaults, string prefix)
    {
        foreach (var p in OptionsBinder.SettableProperties(optionsType).Values)
        {
            var value = defaults is null ? null : p.GetValue(defaults);
            var range = p.GetCustomAttribute<RangeAttribute>();
            var allowed = range is not null ? $"{range.Minimum} to {range.Maximum}"
                : (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType).IsEnum ? string.Join(" | ", Enum.GetNames(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType))
                : p.GetCustomAttribute<RequiredAttribute>() is not null ? "required" : "";
            var description = p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";
            if (OptionsValidation.IsNestedOptions(p.PropertyType))
            {
                yield return new OptionRow(prefix + p.Name, "section", "", "", description);
                foreach (var row in Rows(p.PropertyType, value, prefix + p.Name + ":")) yield return row;
                continue;
            }
            yield return new OptionRow(prefix + p.Name, OptionsBinder.FriendlyName(p.PropertyType), OptionsBinder.Describe(value), allowed, description);
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
