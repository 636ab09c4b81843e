using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace Platform.Abstractions.Kit;

/// <summary>One broken option: its path inside the options object ("Backbone:Strides"), its value and what is wrong.</summary>
public sealed record OptionError(string Path, object? Value, string Message);

/// <summary>
/// The one check of an options object: its validation attributes ([Range], [Required], ...), and
/// <see cref="IValidatableObject"/> for rules that tie options together, applied to nested option objects too.
/// The host's binder reports the first error with the pipeline key; a component built directly (tests, other
/// code) calls <see cref="Check{T}"/> in its constructor, so a bad value fails the same way on either path.
/// </summary>
public static class OptionsValidation
{
    /// <summary>Every error of <paramref name="options"/> and its nested option objects, attribute errors first.</summary>
    public static IReadOnlyList<OptionError> Errors(object options) => Errors(options, "", depth: 0);

    /// <summary><paramref name="options"/> when valid; else an <see cref="ArgumentException"/> naming the owner, the option and the value.</summary>
    public static T Check<T>(T options, string owner) where T : notnull
    {
        var errors = Errors(options);
        if (errors.Count > 0)
        {
            var e = errors[0];
            throw new ArgumentException($"{owner}: option {e.Path} = {Describe(e.Value)}: {e.Message}", e.Path);
        }
        return options;
    }

    public static string Describe(object? value) => value switch
    {
        null => "(none)",
        string s => $"'{s}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Describe)) + "]",
        // A nested part of the options (a model's backbone, say): its values inline.
        _ when IsNestedOptions(value.GetType()) => "{ " + string.Join(", ", value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0).Select(p => $"{p.Name}: {Describe(p.GetValue(value))}")) + " }",
        _ => value.ToString() ?? "",
    };

    private static List<OptionError> Errors(object options, string prefix, int depth)
    {
        var errors = new List<OptionError>();
        var results = new List<ValidationResult>();
        // Property attributes first: IValidatableObject.Validate runs only when they pass, and its rules may assume them.
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        foreach (var result in results)
        {
            var member = result.MemberNames.FirstOrDefault() ?? "";
            var value = member.Length > 0 ? options.GetType().GetProperty(member)?.GetValue(options) : null;
            errors.Add(new OptionError(prefix + member, value, result.ErrorMessage ?? "is not valid"));
        }
        if (depth >= 8) return errors;   // option trees are shallow; this only stops a cycle
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || !IsNestedOptions(property.PropertyType)) continue;
            if (property.GetValue(options) is { } nested) errors.AddRange(Errors(nested, prefix + property.Name + ":", depth + 1));
        }
        return errors;
    }

    /// <summary>A nested options object (a model's part): a class of our own, not a string, a collection or a framework type.</summary>
    public static bool IsNestedOptions(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && !typeof(Delegate).IsAssignableFrom(type)
        && type.Namespace?.StartsWith("System", StringComparison.Ordinal) != true;
}
