using RenderFarm.Core;
using RenderFarm.Inference.Planning;

namespace RenderFarm.Inference;

/// <summary>
/// How far two honest executions of a model on different conforming Vulkan devices may differ, output by output.
/// Each float element goes through a known number of roundings — the terms summed into it along its longest chain of
/// kernels (a matrix product's depth, a convolution's window times its input channels, a softmax's row), one per
/// elementwise operation, a few more per exp/log/sqrt/division at their precision bounds — and each rounding moves
/// it by at most a unit roundoff of the magnitudes it sums. The bound is
/// <c>|a − b| ≤ <see cref="Scale"/> · 2^-24 · roundings · max|reference output|</c>.
/// </summary>
/// <remarks>
/// The scale is measured, not assumed: the inference divergence simulator (kernels built as another conforming device
/// would run them, <c>InferenceSession.SimulatingOtherDevice</c>; bench <c>infer-divergence</c>) moves the committed
/// models' outputs by at most 0.105 of <c>2^-24 · roundings · max|output|</c> (the edge detector; 0.009–0.032 for the
/// CNN and the encoders; docs/inference.md, "Verification across devices"). <see cref="Scale"/> leaves about a tenfold
/// margin above that, while an output scaled by 1 % lies 140–24,000 units away and a dropped layer further still.
/// </remarks>
public static class OutputTolerance
{
    /// <summary>Units of <c>2^-24 · roundings · max|reference|</c> two honest devices may differ by.</summary>
    public const double Scale = 1.0;

    /// <summary>float32's unit roundoff, 2^-24.</summary>
    public const double UnitRoundoff = 1.0 / (1 << 24);

    /// <summary>
    /// The roundings each output of <paramref name="model"/> goes through when fed inputs of <paramref name="inputShapes"/>:
    /// the largest sum of <see cref="PlanStep.Roundings"/> along any chain of kernels from an input to the output
    /// (0 for an output computed while planning).
    /// </summary>
    /// <exception cref="UserInputException">The model cannot be planned for those shapes.</exception>
    public static IReadOnlyDictionary<string, long> Roundings(OnnxModel model, IReadOnlyDictionary<string, int[]> inputShapes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShapes);
        model.EnsureSupported();
        var builder = new PlanBuilder(model, new ConstantMemo());
        try
        {
            builder.Build(inputShapes);
        }
        catch (Exception e) when (e is PlanException or KeyNotFoundException)
        {
            throw new UserInputException($"The model cannot be planned for its output tolerances: {e.Message}", e);
        }

        return Roundings(builder);
    }

    /// <summary>The largest absolute difference an honest execution may show from <paramref name="reference"/>, an output of <paramref name="roundings"/> roundings.</summary>
    public static double Bound(long roundings, ReadOnlySpan<float> reference)
    {
        double magnitude = 0;
        foreach (float value in reference)
        {
            // An infinite or NaN element says nothing of the others' scale; it can only match itself.
            if (float.IsFinite(value))
            {
                magnitude = Math.Max(magnitude, Math.Abs(value));
            }
        }

        return Bound(roundings, magnitude);
    }

    /// <summary>The largest absolute difference an honest execution may show for an output of <paramref name="roundings"/> roundings and largest magnitude <paramref name="magnitude"/>.</summary>
    public static double Bound(long roundings, double magnitude)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(roundings);
        ArgumentOutOfRangeException.ThrowIfNegative(magnitude);
        return Scale * UnitRoundoff * Math.Max(1, roundings) * magnitude;
    }

    internal static Dictionary<string, long> Roundings(PlanBuilder builder)
    {
        // Slots are logical tensors, written by the steps in order (a concatenation by several): each written slot
        // takes the most roundings among what the step reads, plus the step's own.
        var slots = new Dictionary<Slot, long>(ReferenceEqualityComparer.Instance);
        foreach (PlanStep step in builder.Steps)
        {
            int reads = step.Buffers.Length - step.Writes;
            long input = 0;
            for (int i = 0; i < reads; i++)
            {
                input = Math.Max(input, slots.GetValueOrDefault(step.Buffers[i]));
            }

            for (int i = reads; i < step.Buffers.Length; i++)
            {
                Slot written = step.Buffers[i];
                slots[written] = Math.Max(slots.GetValueOrDefault(written), checked(input + step.Roundings));
            }
        }

        return builder.OutputValues.ToDictionary(
            pair => pair.Key,
            pair => pair.Value.Slot is { } slot ? slots.GetValueOrDefault(slot) : 0,
            StringComparer.Ordinal);
    }
}
