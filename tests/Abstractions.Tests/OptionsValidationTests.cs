using System.ComponentModel.DataAnnotations;
using Platform.Abstractions.Kit;
using RangeAttribute = System.ComponentModel.DataAnnotations.RangeAttribute;

namespace Platform.Abstractions.Tests;

public class OptionsValidationTests
{
    private sealed class Inner
    {
        [Range(1, 10)]
        public int Size { get; set; } = 3;
    }

    private sealed class Outer : IValidatableObject
    {
        [Range(0.0, 1.0, MinimumIsExclusive = true)]
        public double Ratio { get; set; } = 0.5;

        public double Low { get; set; }
        public double High { get; set; } = 1;

        public Inner Part { get; set; } = new();

        public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
        {
            if (!(Low < High)) yield return new ValidationResult("Low must be less than High.", [nameof(Low), nameof(High)]);
        }
    }

    [Test]
    public void Defaults_pass_and_check_returns_the_same_object()
    {
        var options = new Outer();
        Assert.That(OptionsValidation.Errors(options), Is.Empty);
        Assert.That(OptionsValidation.Check(options, "thing"), Is.SameAs(options));
    }

    [Test]
    public void A_broken_range_names_the_owner_the_option_and_the_value()
    {
        var e = Assert.Throws<ArgumentException>(() => OptionsValidation.Check(new Outer { Ratio = 0 }, "step 'x'"));
        Assert.That(e!.Message, Does.StartWith("step 'x': option Ratio = 0:"));
    }

    [Test]
    public void Nested_option_objects_are_checked_with_their_path()
    {
        var errors = OptionsValidation.Errors(new Outer { Part = new Inner { Size = 11 } });
        Assert.That(errors.Select(e => (e.Path, e.Value)), Is.EqualTo(new[] { ("Part:Size", (object?)11) }));
    }

    [Test]
    public void Rules_that_tie_options_together_run_after_the_attributes()
    {
        var errors = OptionsValidation.Errors(new Outer { Low = 2, High = 1 });
        Assert.That(errors.Single().Message, Is.EqualTo("Low must be less than High."));
        Assert.That(errors.Single().Path, Is.EqualTo("Low"));
        // A broken attribute hides the cross-field rule, which may rely on it.
        Assert.That(OptionsValidation.Errors(new Outer { Low = 2, High = 1, Ratio = 2 }).Select(e => e.Path), Is.EqualTo(new[] { "Ratio" }));
    }

    [Test]
    public void Not_a_number_breaks_a_range()
    {
        Assert.That(OptionsValidation.Errors(new Outer { Ratio = double.NaN }).Select(e => e.Path), Is.EqualTo(new[] { "Ratio" }));
    }
}
