using System.Runtime.Loader;
using Platform.TestKit;

namespace Platform.Host.Tests;

/// <summary>A plugin folder given with --plugins runs only when the user trusted exactly its files.</summary>
public class PluginTrustTests
{
    /// <summary>A copy of the sample plugin in a new folder: same code, not trusted yet.</summary>
    private static string CopyOfSamplePlugin()
    {
        var root = TestPaths.NewTempDirectory("untrusted-plugins");
        var folder = Path.Combine(root, "Acme.PointStride");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(SamplePluginBuild.PluginFolder)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return root;
    }

    private static bool AnyAssemblyLoadedFrom(string folder) =>
        AssemblyLoadContext.All.SelectMany(c => c.Assemblies).Any(a => !a.IsDynamic && a.Location.StartsWith(folder, StringComparison.Ordinal));

    [Test]
    public void An_untrusted_plugin_folder_is_refused_by_name_and_none_of_its_code_is_loaded()
    {
        var root = CopyOfSamplePlugin();
        var result = HostRunner.Run("plugins", "--plugins", root);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Errors, Does.Contain($"plugin 'Acme.PointStride' ({Path.Combine(root, "Acme.PointStride")}) not loaded: not trusted")
            .And.Contain($"platform plugins trust {Path.Combine(root, "Acme.PointStride")}"));
        Assert.That(result.Output, Does.Not.Contain("keep-every-nth"));
        Assert.That(AnyAssemblyLoadedFrom(root), Is.False);
    }

    [Test]
    public void A_trusted_folder_loads_until_one_of_its_files_changes()
    {
        var root = CopyOfSamplePlugin();
        var trust = HostRunner.Run("plugins", "trust", root);
        Assert.That(trust.ExitCode, Is.Zero, trust.ToString());
        Assert.That(trust.Output, Does.Contain("trusted " + Path.Combine(root, "Acme.PointStride")));

        var loaded = HostRunner.Run("plugins", "--plugins", root);
        Assert.That(loaded.Output, Does.Contain("keep-every-nth"), loaded.ToString());

        // A dependency dropped beside the main assembly is a change, as much as an edited one.
        File.WriteAllText(Path.Combine(root, "Acme.PointStride", "Extra.dll"), "not what was trusted");
        var changed = HostRunner.Run("plugins", "--plugins", root);
        Assert.That(changed.Errors, Does.Contain("its files changed since it was trusted"), changed.ToString());

        var untrust = HostRunner.Run("plugins", "untrust", root);
        Assert.That(untrust.Output, Does.Contain("untrusted"));
        Assert.That(HostRunner.Run("plugins", "--plugins", root).Errors, Does.Contain("not loaded: not trusted"));
    }

    [Test]
    public void A_folder_holding_a_link_cannot_be_trusted()
    {
        var root = CopyOfSamplePlugin();
        File.CreateSymbolicLink(Path.Combine(root, "Acme.PointStride", "elsewhere.dll"), "/etc/hostname");
        var result = HostRunner.Run("plugins", "trust", root);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
        Assert.That(result.Errors, Does.Contain("symbolic link (elsewhere.dll)"));
    }

    [Test]
    public void A_trust_file_that_does_not_parse_is_named_and_nothing_is_loaded_from_other_folders()
    {
        var corrupt = Path.Combine(TestPaths.NewTempDirectory("trust-corrupt"), "trusted-plugins.json");
        File.WriteAllText(corrupt, "{ \"plugins\": [ ");
        Environment.SetEnvironmentVariable("PLATFORM_TRUSTED_PLUGINS", corrupt);
        try
        {
            var result = HostRunner.Run("plugins", "--plugins", SamplePluginBuild.PluginRoot);
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.Errors, Does.Contain(corrupt).And.Contain("not valid JSON"));
            // The host's own plugins need no trust file: without --plugins the same file is not read.
            Assert.That(HostRunner.Run("plugins").ExitCode, Is.Zero);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PLATFORM_TRUSTED_PLUGINS", SamplePluginBuild.TrustFile);
        }
    }
}
