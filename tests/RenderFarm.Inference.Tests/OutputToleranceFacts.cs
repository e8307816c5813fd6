using RenderFarm.Inference.Tests.Models;
using RenderFarm.Inference.Tests.Samples;
using Xunit.Abstractions;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Tolerances per output (<see cref="OutputTolerance"/>): the roundings the plan puts each output through, the bound
/// they give with the output's magnitude, and that bound against the divergence simulator (the kernels built as another
/// conforming device) and against cheats that the fixed tolerance of before could not tell apart from rounding.
/// </summary>
public sealed class OutputToleranceFacts
{
    private const double U = OutputTolerance.UnitRoundoff;

    [Fact]
    public void The_bound_grows_with_roundings_and_magnitude_and_ignores_infinite_elements()
    {
        Assert.Equal(OutputTolerance.Scale * U * 0.5, OutputTolerance.Bound(0, [0.5f, -0.25f]));
        Assert.Equal(OutputTolerance.Scale * U * 100 * 2, OutputTolerance.Bound(100, [-2f, 1f, float.NaN, float.PositiveInfinity]));
        Assert.Equal(OutputTolerance.Bound(100, [3f]) * 10, OutputTolerance.Bound(1000, [3f]), 1e-20);
        Assert.Equal(0, OutputTolerance.Bound(5000, [0f, -0f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => OutputTolerance.Bound(-1, [1f]));
    }

    /// <summary>
    /// Roundings add up along the longest chain: a 64-deep matrix product (64 terms and its rounding), a Relu (exact), a
    /// softmax over 8 (8 terms, its exps and division: 24); a reshaped input is a copy (0); a sum of both chains takes
    /// the longer one and its own rounding; a 3×3 convolution over 3 channels sums 27 terms and its bias.
    /// </summary>
    [Fact]
    public void Roundings_add_up_along_the_longest_chain_of_kernels()
    {
        var random = new Random(3);
        OnnxModel dense = new ModelBuilder(17)
            .Input("x", 1, 64)
            .Output("hidden").Output("probs").Output("copy").Output("sum")
            .Initializer("w", [64, 8], Oracle.RandomData(random, 64 * 8, 0.3f))
            .Int64s("flat", 2, 32).Int64s("shape8", 8, 8)
            .Node("MatMul", ["x", "w"], ["hidden"])
            .Node("Relu", ["hidden"], ["positive"])
            .Node("Softmax", ["positive"], ["probs"], a => a.Int("axis", -1))
            .Node("Reshape", ["x", "flat"], ["copy"])
            .Int64s("one8", 8, 1)
            .Node("Reshape", ["x", "shape8"], ["square"])
            .Node("Reshape", ["probs", "one8"], ["probs8"])
            .Node("MatMul", ["square", "probs8"], ["mixed"])
            .Node("Add", ["mixed", "mixed"], ["sum"])
            .Build();
        IReadOnlyDictionary<string, long> roundings = OutputTolerance.Roundings(dense, new Dictionary<string, int[]> { ["x"] = [1, 64] });
        Assert.Equal(65, roundings["hidden"]);
        Assert.Equal(65 + 24, roundings["probs"]);
        Assert.Equal(0, roundings["copy"]);
        Assert.Equal(65 + 24 + 9 + 1, roundings["sum"]);

        OnnxModel conv = new ModelBuilder(17)
            .Input("image", 1, 3, 8, 8).Output("features")
            .Initializer("k", [4, 3, 3, 3], Oracle.RandomData(random, 4 * 27, 0.3f))
            .Initializer("bias", [4], Oracle.RandomData(random, 4, 0.1f))
            .Node("Conv", ["image", "k", "bias"], ["features"], a => a.Ints("pads", 1, 1, 1, 1))
            .Build();
        Assert.Equal(28, OutputTolerance.Roundings(conv, new Dictionary<string, int[]> { ["image"] = [1, 3, 8, 8] })["features"]);
    }

    [Fact]
    public void A_model_that_cannot_be_planned_for_the_shapes_is_refused_in_one_line()
    {
        OnnxModel model = new ModelBuilder(17).Input("x", null, 64).Output("y")
            .Initializer("w", [64, 8], new float[64 * 8])
            .Node("MatMul", ["x", "w"], ["y"])
            .Build();
        var refused = Assert.Throws<Core.UserInputException>(() => OutputTolerance.Roundings(model, new Dictionary<string, int[]> { ["x"] = [2, 63] }));
        Assert.Contains("cannot be planned", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Planning folds ConstantOfShape and Range on the CPU, and the coordinator plans models to count their roundings:
    /// a few bytes asking for a [65536, 65536] constant (32 GB of doubles) or a range of 10^12 steps are refused in one
    /// line before anything is allocated (before, the planner tried to allocate them).
    /// </summary>
    [Fact]
    public void Constants_too_large_to_fold_while_planning_are_refused_before_they_are_allocated()
    {
        OnnxModel filled = new ModelBuilder(17).Input("x", 1).Output("y")
            .Int64s("huge", 65536, 65536)
            .Node("ConstantOfShape", ["huge"], ["big"])
            .Node("ReduceSum", ["big"], ["total"], a => a.Int("keepdims", 0))
            .Node("Add", ["x", "total"], ["y"])
            .Build();
        OnnxModel ranged = new ModelBuilder(17).Input("x", 1).Output("y")
            .Initializer("start", [], [0L]).Initializer("limit", [], [1_000_000_000_000L]).Initializer("delta", [], [1L])
            .Node("Range", ["start", "limit", "delta"], ["steps"])
            .Node("Cast", ["steps"], ["floats"], a => a.Int("to", 1))
            .Node("ReduceSum", ["floats"], ["total"], a => a.Int("keepdims", 0))
            .Node("Add", ["x", "total"], ["y"])
            .Build();
        foreach (OnnxModel model in new[] { filled, ranged })
        {
            var refused = Assert.Throws<Core.UserInputException>(() => OutputTolerance.Roundings(model, new Dictionary<string, int[]> { ["x"] = [1] }));
            Assert.Contains("too large to compute while planning", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', refused.Message);
        }
    }

    /// <summary>
    /// On the simulated other device every float output of the sample networks stays within its bound of this device's
    /// output, while an output scaled by 1.001 (inside the fixed 1e-3 relative tolerance of before) and a BERT-style
    /// encoder with its second layer dropped fall far outside it.
    /// </summary>
    [Trait("Category", "Gpu")]
    [Collection(GpuCollection.Name)]
    public sealed class OnTheDevice
    {
        private readonly GpuFixture _gpu;
        private readonly ITestOutputHelper _output;

        public OnTheDevice(GpuFixture gpu, ITestOutputHelper output)
        {
            _gpu = gpu;
            _output = output;
        }

        [Fact]
        public void An_honest_run_on_another_device_passes_and_scaled_or_shortened_outputs_fail()
        {
            var random = new Random(29);
            var encoderInputs = new Dictionary<string, Tensor>
            {
                ["input_ids"] = new([2, 9], [.. Enumerable.Range(0, 18).Select(_ => (float)random.Next(TransformerNetworks.Vocabulary))], TensorElementType.Int64),
                ["attention_mask"] = new([2, 9], [.. Enumerable.Range(0, 18).Select(i => i % 9 < 7 ? 1f : 0f)], TensorElementType.Int64),
            };
            (string Label, OnnxModel Model, Dictionary<string, Tensor> Inputs)[] cases =
            [
                ("small CNN", SmallCnnModel.Create().Build(), new() { ["image"] = new([2, 3, 64, 64], Oracle.RandomData(random, 2 * 3 * 64 * 64, 1f)) }),
                ("edge detector", EdgeDetectModel.Create().Build(), new() { ["image"] = new([1, 3, 32, 48], [.. Oracle.RandomData(random, 3 * 32 * 48, 1f).Select(Math.Abs)]) }),
                ("BERT-style encoder", TransformerNetworks.Encoder(41, layers: 2).Build(), encoderInputs),
                ("fused BERT-style encoder", TransformerNetworks.Encoder(41, layers: 2, fused: true).Build(), encoderInputs),
            ];

            int compared = 0;
            foreach ((string label, OnnxModel model, Dictionary<string, Tensor> inputs) in cases)
            {
                Assert.Equal(model.Inputs.Select(i => i.Name).Order(), inputs.Keys.Order());
                using var ours = new InferenceSession(_gpu.Device, model);
                using var other = InferenceSession.SimulatingOtherDevice(_gpu.Device, model);
                IReadOnlyDictionary<string, long> roundings = OutputTolerance.Roundings(model, inputs.ToDictionary(p => p.Key, p => p.Value.Shape.ToArray()));
                IReadOnlyDictionary<string, Tensor> reference = ours.Run(inputs);
                IReadOnlyDictionary<string, Tensor> honest = other.Run(inputs);
                foreach (TensorInfo info in model.Outputs.Where(o => !TensorTypes.IsInteger(o.ElementType)))
                {
                    float[] expected = reference[info.Name].Data;
                    double bound = OutputTolerance.Bound(roundings[info.Name], expected);
                    double divergence = MaxDifference(honest[info.Name].Data, expected);
                    double scaled = MaxDifference([.. expected.Select(v => v * 1.001f)], expected);
                    _output.WriteLine($"{label} {info.Name}: {roundings[info.Name]} roundings, bound {bound:G3}; other device {divergence:G3} ({divergence / bound:P1} of it); scaled by 1.001 {scaled:G3}");
                    Assert.True(roundings[info.Name] > 1, $"{label} {info.Name}: the plan counted no roundings.");
                    Assert.True(divergence > 0, $"{label} {info.Name}: the other-device build changed nothing, so it measures nothing.");
                    Assert.True(divergence <= bound, $"{label} {info.Name}: an honest other device differs by {divergence:G3}, beyond the bound {bound:G3}.");
                    Assert.True(scaled > bound, $"{label} {info.Name}: an output scaled by 1.001 ({scaled:G3}) passes the bound {bound:G3}.");
                    compared++;
                }
            }

            Assert.Equal(6, compared);

            // A provider skipping the encoder's second layer delivers the one-layer encoder's outputs (the generator draws
            // the layers' weights in order, so it is the same network with the last layer cut).
            OnnxModel full = TransformerNetworks.Encoder(41, layers: 2).Build();
            OnnxModel shortened = TransformerNetworks.Encoder(41, layers: 1).Build();
            using var fullSession = new InferenceSession(_gpu.Device, full);
            using var shortSession = new InferenceSession(_gpu.Device, shortened);
            IReadOnlyDictionary<string, long> fullRoundings = OutputTolerance.Roundings(full, encoderInputs.ToDictionary(p => p.Key, p => p.Value.Shape.ToArray()));
            IReadOnlyDictionary<string, Tensor> right = fullSession.Run(encoderInputs);
            IReadOnlyDictionary<string, Tensor> cut = shortSession.Run(encoderInputs);
            foreach (string name in new[] { "last_hidden_state", "sentence_embedding" })
            {
                double bound = OutputTolerance.Bound(fullRoundings[name], right[name].Data);
                double difference = MaxDifference(cut[name].Data, right[name].Data);
                _output.WriteLine($"dropped layer {name}: {difference:G3} against the bound {bound:G3}");
                Assert.True(difference > 100 * bound, $"a dropped layer moves {name} by only {difference:G3} (bound {bound:G3}).");
            }
        }

        private static double MaxDifference(float[] actual, float[] expected)
        {
            Assert.Equal(expected.Length, actual.Length);
            Assert.NotEmpty(expected);
            double worst = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            }

            return worst;
        }
    }
}
