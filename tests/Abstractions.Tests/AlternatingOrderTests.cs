using Platform.Abstractions.Kit;

namespace Platform.Abstractions.Tests;

public class AlternatingOrderTests
{
    [Test]
    public void Even_rounds_run_in_the_given_order_and_odd_rounds_in_reverse()
    {
        Assert.That(AlternatingOrder.Of(0, 2), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(AlternatingOrder.Of(1, 2), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(AlternatingOrder.Of(6, 3), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(AlternatingOrder.Of(7, 3), Is.EqualTo(new[] { 2, 1, 0 }));
        Assert.That(AlternatingOrder.Of(3, 0), Is.Empty);
    }

    [Test]
    public void Over_an_even_number_of_rounds_every_model_goes_first_equally_often()
    {
        var first = Enumerable.Range(0, 10).Select(r => AlternatingOrder.Of(r, 2)[0]).ToArray();
        Assert.That(first.Count(i => i == 0), Is.EqualTo(5));
        Assert.That(first.Count(i => i == 1), Is.EqualTo(5));
    }
}
