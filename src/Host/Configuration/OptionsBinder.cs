using System.Collections;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Abstractions.Kit;

namespace Platform.Host.Configuration;

/// <summary>
/// Binds a configuration section onto a component's options class, the ML.NET options way, but
/// strictly: a key the class does not have (a typo), a value that does not convert, and a value that
/// breaks a [Range] or other validation attribute each fail with the full config key and the value.
/// </summary>
public static class OptionsBinder
{
    /// <summary>Options of <paramref name="optionsType"/> from <paramref name="section"/>, checked key by key and validated; laid over <paramref name="onto"/> when given, else over the defaults.</summary>
    public static object Bind(Type optionsType, IConfigurationSection? section, string owner, object? onto = null)
    {
        var options = onto ?? Activator.CreateInstance(optionsType)
                      ?? throw new PlatformException($"cannot create options of type {optionsType.Name}");
        if (section is null || !section.Exists()) return Validate(options, section?.Path ?? owner, owner);

        if (section.Value is not null && !section.GetChildren().Any())
            throw new PlatformException($"{section.Path}: {owner} expects a section of options here, not the value '{section.Value}'.");

        CheckKeys(optionsType, section, owner);
        options = StartFromPreset(options, section, owner, bound: onto is not null);
        try
        {
            section.Bind(options, o => o.ErrorOnUnknownConfiguration = false);
        }
        catch (InvalidOperationException e)
        {
            // CheckKeys converts every leaf first, so this is rare: keep the binder's own words.
            throw new PlatformException($"{section.Path}: {e.Message}", e);
        }
        ReplaceCollections(options, section);
        return Validate(options, section.Path, owner);
    }

    /// <summary>
    /// Options with presets (<see cref="IPresetOptions"/>) start from the preset the section names; its other keys are then
    /// laid over that. Options already bound (a checkpoint's) keep their values unless the section names another preset.
    /// </summary>
    private static object StartFromPreset(object options, IConfigurationSection section, string owner, bool bound)
    {
        if (options is not IPresetOptions presets || section[nameof(IPresetOptions.Preset)] is not { Length: > 0 } name) return options;
        if (bound && string.Equals(name, presets.Preset, StringComparison.OrdinalIgnoreCase)) return options;
        return presets.FromPreset(name)
               ?? throw new PlatformException($"{section.Path}:{nameof(IPresetOptions.Preset)}: {owner} has no preset '{name}'; its presets are {string.Join(", ", presets.PresetNames())}.");
    }

    /// <summary>
    /// The configuration binder appends to a list or array that already holds defaults; a pipeline that
    /// writes a list means that list, so collections named in the section are replaced, not extended.
    /// </summary>
    private static void ReplaceCollections(object target, IConfigurationSection section)
    {
        foreach (var child in section.GetChildren())
        {
            if (!SettableProperties(target.GetType()).TryGetValue(child.Key, out var property)) continue;
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (IsScalar(type)) continue;
            if (ElementType(type) is not null && property.SetMethod?.IsPublic == true)
                property.SetValue(target, child.Get(property.PropertyType));
            else if (!IsDictionary(type) && type.IsClass && property.GetValue(target) is { } nested)
                ReplaceCollections(nested, child);
        }
    }

    private static void CheckKeys(Type type, IConfigurationSection section, string owner)
    {
        var properties = SettableProperties(type);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                var known = properties.Count == 0 ? "it has no options" : "its options are " + string.Join(", ", properties.Values.Select(p => p.Name));
                throw new PlatformException($"{child.Path}: {owner} has no option '{child.Key}'; {known}.");
            }
            CheckValue(property.PropertyType, child, owner);
        }
    }

    private static void CheckValue(Type type, IConfigurationSection node, string owner)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(target))
        {
            if (node.GetChildren().Any())
                throw new PlatformException($"{node.Path}: {owner} expects a single {FriendlyName(target)} here, not a section.");
            if (node.Value is null or "" && Nullable.GetUnderlyingType(type) is not null) return;
            if (!TryConvert(target, node.Value, out _))
                throw new PlatformException($"{node.Path}: '{node.Value}' is not a valid {FriendlyName(target)}.");
            return;
        }
        var element = ElementType(target);
        if (element is not null)
        {
            foreach (var item in node.GetChildren()) CheckValue(element, item, owner);
            return;
        }
        if (IsDictionary(target)) return;
        if (target.IsClass) CheckKeys(target, node, owner);
    }

    private static object Validate(object options, string path, string owner)
    {
        // Nested option objects (a model's parts) are checked too, each error under its full key.
        var errors = OptionsValidation.Errors(options);
        if (errors.Count > 0)
        {
            var first = errors[0];
            throw new PlatformException($"{path}:{first.Path} = {Describe(first.Value)}: {first.Message} ({owner}).");
        }
        return options;
    }

    public static Dictionary<string, PropertyInfo> SettableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            // Settable properties, and get-only nested option objects (the binder fills those in place).
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0 &&
                        (p.SetMethod?.IsPublic == true || !IsScalar(p.PropertyType) && p.PropertyType.IsClass && !p.PropertyType.IsArray))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    public static bool IsScalar(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Uri);
    }

    public static Type? ElementType(Type type)
    {
        if (type.IsArray) return type.GetElementType();
        if (type.IsGenericType && type.GetGenericArguments().Length == 1 && typeof(IEnumerable).IsAssignableFrom(type) && type != typeof(string))
            return type.GetGenericArguments()[0];
        return null;
    }

    private static bool IsDictionary(Type type) =>
        type.IsGenericType && type.GetGenericArguments().Length == 2 && typeof(IEnumerable).IsAssignableFrom(type);

    private static bool TryConvert(Type type, string? value, out object? result)
    {
        result = null;
        if (value is null) return !type.IsValueType;
        try
        {
            if (type.IsEnum)
            {
                if (!Enum.TryParse(type, value, ignoreCase: true, out result) || !Enum.IsDefined(type, result!)) return false;
                return true;
            }
            result = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    public static string FriendlyName(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsEnum) return $"{t.Name} (one of {string.Join(", ", Enum.GetNames(t))})";
        var element = ElementType(t);
        if (element is not null) return $"list of {FriendlyName(element)}";
        return t switch
        {
            _ when t == typeof(int) => "integer",
            _ when t == typeof(long) => "integer",
            _ when t == typeof(float) || t == typeof(double) => "number",
            _ when t == typeof(bool) => "boolean (true/false)",
            _ when t == typeof(string) => "string",
            _ => t.Name,
        };
    }

    public static string Describe(object? value) => OptionsValidation.Describe(value);
}
