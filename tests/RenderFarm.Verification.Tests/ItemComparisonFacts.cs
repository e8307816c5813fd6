namespace RenderFarm.Verification.Tests;

/// <summary>Two executions of one inference item compared output by output, each by its type.</summary>
public sealed class ItemComparisonFacts
{
    private static readonly ItemComparison s_comparison = new(new TensorComparison());

    private static ItemTensor Scores(params float[] values) => new("scores", false, [values.Length], values);

    private static ItemTensor Label(params float[] values) => new("label", true, [values.Length], values);

    [Fact]
    public void Float_outputs_within_tolerance_and_equal_integer_outputs_match()
    {
        ItemDifference difference = s_comparison.Compare([Label(3, 1), Scores(1.00001f, -2f)], [Scores(1f, -2f), Label(3, 1)]);

        Assert.True(difference.IsMatch, difference.Summary);
        Assert.StartsWith("2 output(s), max |diff| 1", difference.Summary, StringComparison.Ordinal);
    }

    /// <summary>
    /// A token id or index off by one is a wrong answer however large the number: integer outputs are compared exactly,
    /// where the float tolerance (1e-4 + 1e-3·|b|, about 5 at 5000) would have let a changed id through.
    /// </summary>
    [Fact]
    public void An_integer_output_off_by_the_least_step_fails_though_a_float_tolerance_would_pass_it()
    {
        ItemDifference difference = s_comparison.Compare([Scores(1f), Label(4, 5001)], [Scores(1f), Label(4, 5000)]);

        Assert.False(difference.IsMatch);
        Assert.StartsWith("'label': max |diff| 1, 50", difference.Summary, StringComparison.Ordinal);
        Assert.EndsWith("beyond exact", difference.Summary, StringComparison.Ordinal);
        Assert.True(new TensorComparison().Compare([2], [4, 5001], [2], [4, 5000]).IsMatch);
    }

    /// <summary>
    /// An output's own tolerance (its roundings and magnitude, from the model) replaces the fixed one: 1e-5 off passes
    /// the fixed tolerance but not a bound of 1e-6; an output the callback leaves alone keeps the fixed tolerance.
    /// </summary>
    [Fact]
    public void An_output_with_its_own_tolerance_is_compared_by_it_and_the_others_by_the_fixed_one()
    {
        ItemTensor[] expected = [Scores(1f, -2f), new("logits", false, [1], [1f])];
        ItemTensor[] actual = [Scores(1.00001f, -2f), new("logits", false, [1], [1.00001f])];
        TensorComparison? Tight(ItemTensor reference) => reference.Name == "scores" ? new TensorComparison(1e-6, 0) : null;

        Assert.True(s_comparison.Compare(actual, expected).IsMatch);
        ItemDifference difference = s_comparison.Compare(actual, expected, Tight);

        Assert.False(difference.IsMatch);
        Assert.StartsWith("'scores': max |diff| 1", difference.Summary, StringComparison.Ordinal);
        Assert.DoesNotContain("logits", difference.Summary, StringComparison.Ordinal);
        Assert.True(s_comparison.Compare([Scores(1.0000001f, -2f), actual[1]], expected, Tight).IsMatch);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("renamed")]
    [InlineData("retyped")]
    [InlineData("reshaped")]
    public void Outputs_that_differ_in_name_type_or_shape_fail(string kind)
    {
        ItemTensor[] expected = [Scores(1f, 2f), Label(1)];
        ItemTensor[] actual = kind switch
        {
            "missing" => [Scores(1f, 2f)],
            "renamed" => [Scores(1f, 2f), Label(1) with { Name = "labels" }],
            "retyped" => [Scores(1f, 2f), Label(1) with { Exact = false }],
            _ => [Scores(1f, 2f) with { Shape = [1, 2] }, Label(1)],
        };

        ItemDifference difference = s_comparison.Compare(actual, expected);

        Assert.False(difference.IsMatch);
        Assert.Equal(1, difference.ShareBeyondTolerance);
        Assert.DoesNotContain('\n', difference.Summary);
    }
}
