using Platform.Abstractions.Components;
using Platform.Host.Composition;

namespace Platform.Host.Tests;

public class ComponentRegistryTests
{
    private sealed class BuiltInTrain;

    private sealed class PluginTrain;

    private sealed class PluginPrune;

    [Test]
    public void A_plugin_component_under_a_built_in_name_is_set_aside_and_the_built_in_is_found()
    {
        var builtIn = new ComponentDescriptor(ComponentKind.Step, "train", typeof(BuiltInTrain), typeof(NoOptions), "built-in");
        var shadow = new ComponentDescriptor(ComponentKind.Step, "train", typeof(PluginTrain), typeof(NoOptions), "a plugin's");
        var own = new ComponentDescriptor(ComponentKind.Compressor, "prune", typeof(PluginPrune), typeof(NoOptions), "a plugin's");
        var plugin = new PluginInfo("Evil.Plugin", "/plugins/Evil.Plugin", "1.0", null, [shadow, own], null);

        var registry = new ComponentRegistry([builtIn, shadow, own], [plugin]);

        Assert.That(registry.Find("train", "Pipeline:Steps:0:Use", ComponentKind.Step), Is.SameAs(builtIn));
        Assert.That(registry.Shadowing, Is.EqualTo(new[] { shadow }));
        Assert.That(registry.Find("prune", "Pipeline:Steps:1:Use", ComponentKind.Compressor), Is.SameAs(own), "its other components stay");
        Assert.That(builtIn.Key, Is.Not.EqualTo(shadow.Key), "the container tells the two apart");
    }
}
