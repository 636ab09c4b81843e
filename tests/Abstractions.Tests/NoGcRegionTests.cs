using System.Runtime;
using Platform.Abstractions.Kit;

namespace Platform.Abstractions.Tests;

public class NoGcRegionTests
{
    [Test]
    public void Entering_keeps_the_collector_out_until_disposed()
    {
        var before = GC.CollectionCount(0);
        using (NoGcRegion.Enter())
        {
            Assert.That(GCSettings.LatencyMode, Is.EqualTo(GCLatencyMode.NoGCRegion), "the region was entered");
            var keep = new List<byte[]>();
            for (var i = 0; i < 64; i++) keep.Add(new byte[256 * 1024]); // 16 MB, well inside the budget
            Assert.That(GC.CollectionCount(0), Is.EqualTo(before + 1).Or.EqualTo(before), "no collection inside the region (entering may collect once)");
            GC.KeepAlive(keep);
        }
        Assert.That(GCSettings.LatencyMode, Is.Not.EqualTo(GCLatencyMode.NoGCRegion));
    }
}
