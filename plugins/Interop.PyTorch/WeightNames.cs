using System.ComponentModel;
using System.Text.RegularExpressions;
using Platform.Abstractions.Models;

namespace Platform.Plugins.Interop.PyTorch;

/// <summary>One rename: every match of <see cref="Pattern"/> (a .NET regular expression) in a name is replaced.</summary>
public sealed class RenameRule
{
    [Description("Regular expression matched in each name, e.g. ^module\\. (the prefix DataParallel adds).")]
    public string Pattern { get; set; } = "";

    [Description("What each match becomes; $1, $2... are the pattern's groups.")]
    public string Replacement { get; set; } = "";
}

/// <summary>
/// How the names of a state dict file and of the model correspond: a model's known convention (a table, see
/// <see cref="IKnownWeightNames"/>) first, then the pipeline's rename rules in order, each applied to the result of the last.
/// </summary>
public sealed class WeightNames
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);
    private readonly IReadOnlyDictionary<string, string> _convention;
    private readonly IReadOnlyList<(Regex Pattern, string Replacement)> _rules;

    private WeightNames(IReadOnlyDictionary<string, string> convention, IReadOnlyList<(Regex, string)> rules) =>
        (_convention, _rules) = (convention, rules);

    /// <summary>The rules compiled; a pattern that does not parse fails naming its option key under <paramref name="key"/>.</summary>
    public static IReadOnlyList<(Regex Pattern, string Replacement)> Compile(IReadOnlyList<RenameRule> rules, string key)
    {
        var compiled = new List<(Regex, string)>();
        for (var i = 0; i < rules.Count; i++)
        {
            if (string.IsNullOrEmpty(rules[i].Pattern)) throw new ArgumentException($"{key}:{i}:Pattern: a rename rule needs a pattern.");
            try
            {
                compiled.Add((new Regex(rules[i].Pattern, RegexOptions.CultureInvariant, MatchTimeout), rules[i].Replacement));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{key}:{i}:Pattern: '{rules[i].Pattern}' is not a regular expression ({e.Message}).", e);
            }
        }
        return compiled;
    }

    /// <summary>The names the file gives the model's weights, read from file to model (<paramref name="toModel"/>) or from model to file.</summary>
    /// <param name="convention">A convention of <paramref name="model"/> (empty: none); one it does not know fails naming <paramref name="conventionKey"/>.</param>
    public static WeightNames For(IModel model, string? convention, string conventionKey, IReadOnlyList<RenameRule> rules, string rulesKey, bool toModel)
    {
        IReadOnlyDictionary<string, string> table = new Dictionary<string, string>();
        if (!string.IsNullOrEmpty(convention))
        {
            if (model is not IKnownWeightNames known || !known.WeightNameConventions.Contains(convention, StringComparer.OrdinalIgnoreCase))
            {
                var offered = model is IKnownWeightNames k && k.WeightNameConventions.Count > 0 ? "its conventions are " + string.Join(", ", k.WeightNameConventions) : "it knows none";
                throw new ArgumentException($"{conventionKey}: model '{model.Spec.Use}' knows no weight-name convention '{convention}'; {offered}.");
            }
            var modelToConvention = known.ConventionNames(known.WeightNameConventions.First(c => string.Equals(c, convention, StringComparison.OrdinalIgnoreCase)));
            table = toModel ? Invert(modelToConvention, convention) : modelToConvention;
        }
        return new WeightNames(table, Compile(rules, rulesKey));
    }

    private static Dictionary<string, string> Invert(IReadOnlyDictionary<string, string> table, string convention)
    {
        var inverted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (ours, theirs) in table)
            if (!inverted.TryAdd(theirs, ours))
                throw new InvalidOperationException($"convention '{convention}' gives '{inverted[theirs]}' and '{ours}' the same name '{theirs}'.");
        return inverted;
    }

    /// <summary>The name <paramref name="name"/> becomes.</summary>
    public string Map(string name)
    {
        if (_convention.TryGetValue(name, out var known)) name = known;
        foreach (var (pattern, replacement) in _rules) name = pattern.Replace(name, replacement);
        return name;
    }
}
