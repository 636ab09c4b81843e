using Microsoft.Extensions.Configuration;
using Platform.Abstractions.Components;
using Platform.Host.Configuration;

namespace Platform.Host.Tests;

public class OptionsBinderTests
{
    public sealed class Nested
    {
        public int[] Sizes { get; set; } = [1, 2, 3];
    }

    public sealed class WithLists
    {
        public float[] Range { get; set; } = [0, 0, 0, 1, 1, 1];
        public List<string> Names { get; set; } = ["a", "b"];
        public Nested Inner { get; } = new();
    }

    /// <summary>A model's options in parts, with two presets: "small" (the defaults) and "large".</summary>
    public sealed class Parts : IPresetOptions
    {
        public string Preset { get; set; } = "small";
        public Part Encoder { get; set; } = new();
        public Part Head { get; set; } = new();

        public IReadOnlyList<string> PresetNames() => ["small", "large"];

        public object? FromPreset(string name) => name switch
        {
            "small" => new Parts(),
            "large" => new Parts { Preset = "large", Encoder = new() { Channels = 64, Widths = [[64, 64], [128]] }, Head = new() { Channels = 64 } },
            _ => null,
        };
    }

    public sealed class Part
    {
        [System.ComponentModel.DataAnnotations.Range(1, 4096)]
        public int Channels { get; set; } = 16;

        public int[][] Widths { get; set; } = [];
    }

    private static IConfigurationSection Section(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => KeyValuePair.Create("O:" + p.Key, (string?)p.Value))).Build().GetSection("O");

    [Test]
    public void A_list_in_the_configuration_replaces_the_default_list_instead_of_extending_it()
    {
        var options = (WithLists)OptionsBinder.Bind(typeof(WithLists), Section(("Range:0", "5"), ("Range:1", "6"), ("Names:0", "x"), ("Inner:Sizes:0", "9")), "test");
        Assert.That(options.Range, Is.EqualTo(new float[] { 5, 6 }));
        Assert.That(options.Names, Is.EqualTo(new[] { "x" }));
        Assert.That(options.Inner.Sizes, Is.EqualTo(new[] { 9 }));
    }

    [Test]
    public void Lists_not_named_in_the_configuration_keep_their_defaults()
    {
        var options = (WithLists)OptionsBinder.Bind(typeof(WithLists), Section(("Names:0", "x")), "test");
        Assert.That(options.Range, Is.EqualTo(new float[] { 0, 0, 0, 1, 1, 1 }));
        Assert.That(options.Inner.Sizes, Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public void A_bad_list_element_is_named_by_its_index()
    {
        var error = Assert.Throws<PlatformException>(() => OptionsBinder.Bind(typeof(WithLists), Section(("Range:0", "5"), ("Range:1", "six")), "test"));
        Assert.That(error!.Message, Does.Contain("O:Range:1").And.Contain("'six'"));
    }

    [Test]
    public void The_section_is_laid_over_the_preset_it_names()
    {
        var options = (Parts)OptionsBinder.Bind(typeof(Parts), Section(("Preset", "large"), ("Head:Channels", "8")), "test");
        Assert.That((options.Preset, options.Encoder.Channels, options.Head.Channels), Is.EqualTo(("large", 64, 8)));
        Assert.That(options.Encoder.Widths, Is.EqualTo(new[] { new[] { 64, 64 }, new[] { 128 } }));
        var defaults = (Parts)OptionsBinder.Bind(typeof(Parts), Section(("Head:Channels", "8")), "test");
        Assert.That((defaults.Preset, defaults.Encoder.Channels, defaults.Head.Channels), Is.EqualTo(("small", 16, 8)));
    }

    [Test]
    public void Options_already_bound_keep_their_values_unless_the_section_names_another_preset()
    {
        var saved = new Parts { Encoder = new() { Channels = 5 } };
        var same = (Parts)OptionsBinder.Bind(typeof(Parts), Section(("Preset", "small"), ("Head:Channels", "8")), "test", saved);
        Assert.That((same.Encoder.Channels, same.Head.Channels), Is.EqualTo((5, 8)));
        var other = (Parts)OptionsBinder.Bind(typeof(Parts), Section(("Preset", "large")), "test", new Parts { Encoder = new() { Channels = 5 } });
        Assert.That(other.Encoder.Channels, Is.EqualTo(64));
    }

    [Test]
    public void An_unknown_preset_is_named_with_the_presets_there_are()
    {
        var error = Assert.Throws<PlatformException>(() => OptionsBinder.Bind(typeof(Parts), Section(("Preset", "huge")), "test"));
        Assert.That(error!.Message, Does.Contain("O:Preset").And.Contain("'huge'").And.Contain("small, large"));
    }

    [Test]
    public void Nested_options_are_validated_under_their_own_key_and_lists_of_lists_bind()
    {
        var error = Assert.Throws<PlatformException>(() => OptionsBinder.Bind(typeof(Parts), Section(("Head:Channels", "0")), "test"));
        Assert.That(error!.Message, Does.Contain("O:Head:Channels = 0"));
        var options = (Parts)OptionsBinder.Bind(typeof(Parts), Section(("Preset", "large"), ("Encoder:Widths:0:0", "3"), ("Encoder:Widths:1:0", "4"), ("Encoder:Widths:1:1", "5")), "test");
        Assert.That(options.Encoder.Widths, Is.EqualTo(new[] { new[] { 3 }, new[] { 4, 5 } }));
        Assert.That(OptionsBinder.Describe(new Part()), Is.EqualTo("{ Channels: 16, Widths: [] }"));
    }
}
