using Platform.Abstractions.Kit;

namespace Platform.Abstractions.Tests;

public class RankCorrelationTests
{
    [Test]
    public void Spearman_correlation_of_a_monotone_but_nonlinear_relation_is_one_and_of_a_reversal_minus_one()
    {
        double[] x = [1, 2, 3, 4, 5];
        Assert.That(RankCorrelation.Spearman(x, x.Select(v => v * v * v).ToArray()), Is.EqualTo(1).Within(1e-12));
        Assert.That(RankCorrelation.Spearman(x, x.Select(v => -v).ToArray()), Is.EqualTo(-1).Within(1e-12));
        // Hand computed: ranks (1,2,3) vs (1,3,2): d² = 0+1+1, ρ = 1 − 6·2/(3·8) = 0.5.
        Assert.That(RankCorrelation.Spearman([1, 2, 3], [10, 30, 20]), Is.EqualTo(0.5).Within(1e-12));
    }
}
