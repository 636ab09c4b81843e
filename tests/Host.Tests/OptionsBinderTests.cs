using Microsoft.Extensions.Configuration;
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
}
