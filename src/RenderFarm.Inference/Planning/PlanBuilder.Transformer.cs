using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Lowering of the operators transformer encoders and detector heads add: index-valued reductions, TopK, CumSum,
/// Einsum as a matrix product, and ONNX Runtime's fused contrib operators (Attention, SkipLayerNormalization,
/// FastGelu, BiasGelu, Gelu), each lowered to the engine's generic kernels.
/// </summary>
internal sealed partial class PlanBuilder
{
    private PlanValue ArgExtreme(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", 0), rank, node.OpType);
        bool keepDims = node.Int("keepdims", 1) != 0;
        bool last = node.Int("select_last_index", 0) != 0;
        int outer = ShapeMath.Product(x.Shape, 0, axis);
        int length = x.Shape[axis];
        int inner = ShapeMath.Product(x.Shape, axis + 1, rank);
        if (length == 0)
        {
            throw new PlanException("the axis is empty.");
        }

        int[] reduced = (int[])x.Shape.Clone();
        reduced[axis] = 1;
        int[] final = keepDims ? reduced : x.Shape.Where((_, i) => i != axis).ToArray();
        bool largest = node.OpType == "ArgMax";
        if (x.Constant is CpuTensor c)
        {
            var data = new double[(long)outer * inner];
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int best = 0;
                    for (int j = 1; j < length; j++)
                    {
                        double v = c.Data[(((long)o * length) + j) * inner + i];
                        double b = c.Data[(((long)o * length) + best) * inner + i];
                        if (largest ? v > b || (last && v == b) : v < b || (last && v == b))
                        {
                            best = j;
                        }
                    }

                    data[((long)o * inner) + i] = best;
                }
            }

            return PlanValue.Of(new CpuTensor(final, data, true));
        }

        PlanValue output = NewGpu(final, isInteger: true);
        uint op = (largest ? 4u : 5u) + (last ? 2u : 0u);
        var push = new PushConstants().U((long)outer * inner).U(length).U(inner).U(op);
        Emit1D(KernelKind.Reduce, [Gpu(x), output.Slot!], push, (long)outer * inner, roundings: 0);
        return output;
    }

    private void TopK(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", -1), rank, "TopK");
        long[] k = ConstantInput(node, 1).ToLongs();
        int length = x.Shape[axis];
        if (k.Length != 1 || k[0] < 0 || k[0] > length)
        {
            throw new PlanException($"k [{string.Join(", ", k)}] must be one value from 0 to the axis length {length}.");
        }

        // Each selected element costs a pass over its line; bound the work of one invocation.
        if (k[0] * length > 1L << 26)
        {
            throw new PlanException($"k = {k[0]} over an axis of {length} is too much work for the TopK kernel.");
        }

        int outer = ShapeMath.Product(x.Shape, 0, axis);
        int inner = ShapeMath.Product(x.Shape, axis + 1, rank);
        int[] shape = (int[])x.Shape.Clone();
        shape[axis] = (int)k[0];
        PlanValue values = NewGpu(shape, x.IsInteger);
        PlanValue indices = NewGpu(shape, isInteger: true);
        if (values.Count > 0)
        {
            var push = new PushConstants().U((long)outer * inner).U(length).U(inner).U(k[0]).U(node.Int("largest", 1) != 0 ? 1u : 0u);
            Emit1D(KernelKind.TopK, [Gpu(x), values.Slot!, indices.Slot!], push, (long)outer * inner);
        }

        SetOutput(node, values, 0);
        SetOutput(node, indices, 1);
    }

    private PlanValue CumSum(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        long[] axes = ConstantInput(node, 1).ToLongs();
        if (axes.Length != 1)
        {
            throw new PlanException("axis must hold one value.");
        }

        int axis = ShapeMath.Axis(axes[0], rank, "CumSum");
        bool exclusive = node.Int("exclusive", 0) != 0;
        bool reverse = node.Int("reverse", 0) != 0;
        int outer = ShapeMath.Product(x.Shape, 0, axis);
        int length = x.Shape[axis];
        int inner = ShapeMath.Product(x.Shape, axis + 1, rank);
        if (x.Constant is CpuTensor c)
        {
            var data = new double[c.Length];
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    double total = 0;
                    for (int t = 0; t < length; t++)
                    {
                        int j = reverse ? length - 1 - t : t;
                        long at = ((((long)o * length) + j) * inner) + i;
                        double before = total;
                        total = c.IsInteger ? total + c.Data[at] : (float)(total + c.Data[at]);
                        data[at] = exclusive ? before : total;
                    }
                }
            }

            return PlanValue.Of(new CpuTensor(x.Shape, data, c.IsInteger));
        }

        PlanValue output = NewGpu(x.Shape, x.IsInteger);
        uint op = 12u + (exclusive ? 1u : 0u) + (reverse ? 2u : 0u);
        var push = new PushConstants().U((long)outer * inner).U(length).U(inner).U(op);
        Emit1D(KernelKind.Reduce, [Gpu(x), output.Slot!], push, (long)outer * inner, length);
        return output;
    }

    /// <summary>
    /// Einsum of one operand (a transpose) or two (a batched matrix product): letters in both operands and the output
    /// are batch axes, letters in both but not the output are contracted, the rest belong to one side.
    /// </summary>
    private PlanValue Einsum(NodeProto node)
    {
        (string[] terms, string output) = ParseEinsum(node.String("equation", string.Empty));
        if (terms.Length != node.Input.Count)
        {
            throw new PlanException($"the equation has {terms.Length} operands but the node {node.Input.Count} inputs.");
        }

        var operands = new PlanValue[terms.Length];
        var sizes = new Dictionary<char, int>();
        for (int t = 0; t < terms.Length; t++)
        {
            operands[t] = Input(node, t);
            if (operands[t].Shape.Length != terms[t].Length)
            {
                throw new PlanException($"operand {t} of shape {ShapeMath.Format(operands[t].Shape)} does not have the {terms[t].Length} axes of '{terms[t]}'.");
            }

            for (int i = 0; i < terms[t].Length; i++)
            {
                int size = operands[t].Shape[i];
                if (sizes.TryGetValue(terms[t][i], out int known) && known != size)
                {
                    throw new PlanException($"axis '{terms[t][i]}' has sizes {known} and {size}.");
                }

                sizes[terms[t][i]] = size;
            }
        }

        int[] outShape = output.Select(l => sizes[l]).ToArray();
        if (terms.Length == 1)
        {
            PlanValue x = operands[0];
            int[] perm = output.Select(l => terms[0].IndexOf(l, StringComparison.Ordinal)).ToArray();
            return Permute(x, x.Shape, perm, outShape);
        }

        string a = terms[0];
        string b = terms[1];
        string batch = new(output.Where(l => a.Contains(l, StringComparison.Ordinal) && b.Contains(l, StringComparison.Ordinal)).ToArray());
        string contracted = new(a.Where(l => b.Contains(l, StringComparison.Ordinal) && !output.Contains(l, StringComparison.Ordinal)).ToArray());
        string left = new(a.Where(l => !b.Contains(l, StringComparison.Ordinal)).ToArray());
        string right = new(b.Where(l => !a.Contains(l, StringComparison.Ordinal)).ToArray());
        int Size(string letters) => letters.Aggregate(1, (p, l) => checked(p * sizes[l]));
        PlanValue Arrange(PlanValue x, string term, string order, int[] shape)
        {
            int[] perm = order.Select(l => term.IndexOf(l, StringComparison.Ordinal)).ToArray();
            return perm.SequenceEqual(Enumerable.Range(0, perm.Length))
                ? Alias(x, shape)
                : Permute(x, x.Shape, perm, shape);
        }

        PlanValue a3 = Arrange(operands[0], a, batch + left + contracted, [Size(batch), Size(left), Size(contracted)]);
        PlanValue b3 = Arrange(operands[1], b, batch + contracted + right, [Size(batch), Size(contracted), Size(right)]);
        PlanValue product = MatMul(a3, b3);
        string natural = batch + left + right;
        product = Alias(product, natural.Select(l => sizes[l]).ToArray());
        int[] final = output.Select(l => natural.IndexOf(l, StringComparison.Ordinal)).ToArray();
        return final.SequenceEqual(Enumerable.Range(0, final.Length)) ? product : Permute(product, product.Shape, final, outShape);
    }

    /// <summary>Splits an Einsum equation; refuses what does not lower to a transpose or one matrix product.</summary>
    internal static (string[] Terms, string Output) ParseEinsum(string equation)
    {
        string text = equation.Replace(" ", string.Empty, StringComparison.Ordinal);
        if (text.Contains("...", StringComparison.Ordinal))
        {
            throw new PlanException("ellipses ('...') are not supported.");
        }

        string[] sides = text.Split("->");
        string[] terms = sides[0].Split(',');
        if (terms.Length is < 1 or > 2 || sides.Length > 2 || text.Any(c => !(char.IsAsciiLetter(c) || c is ',' or '-' or '>')))
        {
            throw new PlanException($"equation '{equation}' is not one or two operands of letters.");
        }

        string all = string.Concat(terms);
        string output = sides.Length == 2
            ? sides[1]
            : new string(all.Where(l => all.Count(m => m == l) == 1).Order().ToArray());
        foreach (string term in terms.Append(output))
        {
            if (term.Distinct().Count() != term.Length)
            {
                throw new PlanException($"'{term}' repeats a letter (diagonals are not supported).");
            }
        }

        foreach (char letter in all.Distinct())
        {
            bool inOutput = output.Contains(letter, StringComparison.Ordinal);
            bool everywhere = terms.All(t => t.Contains(letter, StringComparison.Ordinal));
            if (!inOutput && !everywhere)
            {
                throw new PlanException($"axis '{letter}' is summed over one operand only (not a matrix product).");
            }

            if (!inOutput && terms.Length == 1)
            {
                throw new PlanException($"axis '{letter}' is summed away (a one-operand Einsum must be a transpose).");
            }
        }

        if (output.Any(l => !all.Contains(l, StringComparison.Ordinal)))
        {
            throw new PlanException($"the output '{output}' names an axis no operand has.");
        }

        return (terms, output);
    }

    /// <summary>Softmax over the last axis of <paramref name="x"/>.</summary>
    private PlanValue SoftmaxLast(PlanValue x)
    {
        int length = x.Shape[^1];
        long rows = length == 0 ? 0 : x.Count / length;
        PlanValue output = NewGpu(x.Shape);
        var push = new PushConstants().U(rows).U(length).U(1).U(10u);
        Emit1D(KernelKind.Reduce, [Gpu(x), output.Slot!], push, rows, SoftmaxRoundings(length));
        return output;
    }

    /// <summary>com.microsoft SkipLayerNormalization: LayerNorm(input + skip + bias) over the last axis; output 3 is the sum.</summary>
    private void SkipLayerNormalization(NodeProto node)
    {
        PlanValue sum = Binary(BinaryOp.Add, Input(node, 0), Input(node, 1));
        if (OptionalInput(node, 4) is PlanValue bias)
        {
            sum = Binary(BinaryOp.Add, sum, bias);
        }

        SetOutput(node, LayerNorm(sum, Input(node, 2), OptionalInput(node, 3), -1, node.Float("epsilon", 1e-12f)), 0);
        SetOutput(node, sum, 3);
    }

    /// <summary>
    /// com.microsoft Attention (BERT self-attention): QKV = input · weights + bias split into heads, softmax of
    /// Q·Kᵀ·scale plus the mask's filter value where the 2-D mask is 0, times V, heads merged.
    /// </summary>
    private PlanValue Attention(NodeProto node)
    {
        PlanValue input = Input(node, 0);
        PlanValue weights = Input(node, 1);
        PlanValue? bias = OptionalInput(node, 2);
        PlanValue? mask = OptionalInput(node, 3);
        int heads = (int)node.Int("num_heads", 0);
        if (input.Shape.Length != 3 || weights.Shape.Length != 2 || weights.Shape[0] != input.Shape[2] || weights.Shape[1] % 3 != 0)
        {
            throw new PlanException($"input {ShapeMath.Format(input.Shape)} and weights {ShapeMath.Format(weights.Shape)} are not [B, S, H_in] and [H_in, 3H].");
        }

        (int batch, int sequence) = (input.Shape[0], input.Shape[1]);
        int hidden = weights.Shape[1] / 3;
        if (heads <= 0 || hidden % heads != 0)
        {
            throw new PlanException($"num_heads {heads} does not divide the hidden size {hidden}.");
        }

        int headSize = hidden / heads;
        PlanValue qkv = MatMul(input, weights);
        if (bias is not null)
        {
            qkv = Binary(BinaryOp.Add, qkv, bias);
        }

        int[] qkvStrides = ShapeMath.Strides(qkv.Shape);

        // [B, S, 3, N, h] viewed; Q and V go to [B, N, S, h], K to [B, N, h, S].
        PlanValue Part(int index, bool transposed)
        {
            int[] iteration = transposed ? [batch, heads, headSize, sequence] : [batch, heads, sequence, headSize];
            int[] strides = transposed
                ? [qkvStrides[0], headSize, 1, qkvStrides[1]]
                : [qkvStrides[0], headSize, qkvStrides[1], 1];
            return StridedCopy(qkv, iteration, iteration, index * hidden, strides);
        }

        PlanValue q = Part(0, false);
        PlanValue k = Part(1, true);
        PlanValue v = Part(2, false);
        float scale = node.Float("scale", 0f);
        if (scale == 0f)
        {
            scale = 1f / MathF.Sqrt(headSize);
        }

        PlanValue scores = Unary(UnaryOp.Affine, MatMul(q, k), scale, 0f);
        if (mask is not null)
        {
            if (!mask.Shape.SequenceEqual([batch, sequence]))
            {
                throw new PlanException($"mask_index of shape {ShapeMath.Format(mask.Shape)} is not supported (a [batch, sequence] mask of 1 and 0 is).");
            }

            float filter = node.Float("mask_filter_value", -10000f);
            PlanValue keep = Binary(BinaryOp.Greater, mask, PlanValue.Of(CpuTensor.Scalar(0, true)));
            PlanValue additive = WhereValues(keep, PlanValue.Of(CpuTensor.Scalar(0, false)), PlanValue.Of(CpuTensor.Scalar(filter, false)));
            scores = Binary(BinaryOp.Add, scores, Alias(additive, [batch, 1, 1, sequence]));
        }

        PlanValue context = MatMul(SoftmaxLast(scores), v);
        return Permute(context, context.Shape, [0, 2, 1, 3], [batch, sequence, hidden]);
    }

    /// <summary>
    /// If: a condition known while planning plans only its branch; one computed at run time plans both and selects
    /// each output with Where, so both branches must give outputs of the same shapes.
    /// </summary>
    private void If(NodeProto node)
    {
        PlanValue condition = Input(node, 0);
        if (condition.Count != 1)
        {
            throw new PlanException($"the condition of shape {ShapeMath.Format(condition.Shape)} is not one value.");
        }

        GraphProto thenBranch = node.Attribute("then_branch")?.G ?? throw new PlanException("then_branch is missing.");
        GraphProto elseBranch = node.Attribute("else_branch")?.G ?? throw new PlanException("else_branch is missing.");
        if (condition.Constant is CpuTensor known)
        {
            PlanValue[] chosen = PlanBranch(known.Data[0] != 0 ? thenBranch : elseBranch);
            for (int i = 0; i < chosen.Length; i++)
            {
                SetOutput(node, chosen[i], i);
            }

            return;
        }

        PlanValue[] then = PlanBranch(thenBranch);
        PlanValue[] otherwise = PlanBranch(elseBranch);
        if (then.Length != otherwise.Length)
        {
            throw new PlanException($"the branches give {then.Length} and {otherwise.Length} outputs.");
        }

        PlanValue scalar = Alias(condition, []);
        for (int i = 0; i < then.Length; i++)
        {
            if (!then[i].Shape.SequenceEqual(otherwise[i].Shape))
            {
                throw new PlanException(
                    $"output {i} is {ShapeMath.Format(then[i].Shape)} in one branch and {ShapeMath.Format(otherwise[i].Shape)} in the other; a condition computed at run time needs equal shapes.");
            }

            SetOutput(node, WhereValues(scalar, then[i], otherwise[i]), i);
        }
    }

    private PlanValue[] PlanBranch(GraphProto branch)
    {
        foreach (TensorProto tensor in branch.Initializer)
        {
            _values[tensor.Name] = PlanValue.Of(_memo.Get(tensor, () => CpuTensor.FromProto(tensor)));
        }

        string outer = _node;
        try
        {
            foreach (NodeProto inner in branch.Node)
            {
                if (_absorbed.Contains(inner))
                {
                    continue;
                }

                _node = inner.Describe();
                try
                {
                    PlanNode(inner);
                }
                catch (PlanException e)
                {
                    throw new PlanException($"{inner.OpType} ({_node}): {e.Message}");
                }
            }
        }
        finally
        {
            _node = outer;
        }

        return [.. branch.Output.Select(o => _values.TryGetValue(o.Name, out PlanValue? v) ? v : throw new PlanException($"branch output '{o.Name}' is not produced."))];
    }
}
