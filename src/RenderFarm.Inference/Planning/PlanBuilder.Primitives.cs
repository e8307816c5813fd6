namespace RenderFarm.Inference.Planning;

/// <summary>The generic building blocks every operator lowers to, each with a CPU path for constants.</summary>
internal sealed partial class PlanBuilder
{
    private static double ApplyUnary(UnaryOp op, double value, float alpha, float beta)
    {
        float v = (float)value;
        return op switch
        {
            UnaryOp.Copy => value,
            UnaryOp.Relu => Math.Max(value, 0),
            UnaryOp.LeakyRelu => v >= 0 ? v : alpha * v,
            UnaryOp.Sigmoid => 1f / (1f + MathF.Exp(-v)),
            UnaryOp.Tanh => MathF.Tanh(v),
            UnaryOp.Clip => Math.Min(Math.Max(value, alpha), beta),
            UnaryOp.HardSigmoid => Math.Clamp((alpha * v) + beta, 0f, 1f),
            UnaryOp.HardSwish => v * Math.Clamp((v / 6f) + 0.5f, 0f, 1f),
            UnaryOp.Sqrt => MathF.Sqrt(v),
            UnaryOp.Exp => MathF.Exp(v),
            UnaryOp.Neg => -value,
            UnaryOp.Abs => Math.Abs(value),
            UnaryOp.Log => MathF.Log(v),
            UnaryOp.Reciprocal => 1f / v,
            UnaryOp.Affine => (alpha * v) + beta,
            UnaryOp.Elu => v >= 0 ? v : alpha * (MathF.Exp(v) - 1f),
            UnaryOp.Erf => Erf(v),
            UnaryOp.Gelu => 0.5 * v * (1 + Erf(v * 0.70710678118654752)),
            UnaryOp.GeluTanh => 0.5 * v * (1 + Math.Tanh(0.79788456080286536 * (v + (0.044715 * v * v * v)))),
            UnaryOp.Softplus => v > 20 ? v : Math.Log(1 + Math.Exp(v)),
            UnaryOp.Not => value == 0 ? 1 : 0,
            UnaryOp.Floor => Math.Floor(value),
            UnaryOp.Ceil => Math.Ceiling(value),
            UnaryOp.Round => Math.Round(value, MidpointRounding.ToEven),
            UnaryOp.Trunc => Math.Truncate(value),
            UnaryOp.ToBool => value != 0 ? 1 : 0,
            UnaryOp.Sign => Math.Sign(value),
            UnaryOp.Sin => MathF.Sin(v),
            UnaryOp.Cos => MathF.Cos(v),
            _ => throw new PlanException($"unary op {op} has no CPU form."),
        };
    }

    /// <summary>erf with max abs error 1.5e-7 (Abramowitz and Stegun 7.1.26), as unary.comp computes it.</summary>
    private static double Erf(double v)
    {
        double t = 1 / (1 + (0.3275911 * Math.Abs(v)));
        double poly = t * (0.254829592 + (t * (-0.284496736 + (t * (1.421413741 + (t * (-1.453152027 + (t * 1.061405429))))))));
        return Math.Sign(v) * (1 - (poly * Math.Exp(-v * v)));
    }

    private static double ApplyBinary(BinaryOp op, double a, double b, bool integer)
    {
        if (IsLogic(op) || op is BinaryOp.Fmod or BinaryOp.FloorMod)
        {
            return op switch
            {
                BinaryOp.Equal => a == b ? 1 : 0,
                BinaryOp.Less => a < b ? 1 : 0,
                BinaryOp.Greater => a > b ? 1 : 0,
                BinaryOp.LessOrEqual => a <= b ? 1 : 0,
                BinaryOp.GreaterOrEqual => a >= b ? 1 : 0,
                BinaryOp.And => a != 0 && b != 0 ? 1 : 0,
                BinaryOp.Or => a != 0 || b != 0 ? 1 : 0,
                BinaryOp.Xor => (a != 0) != (b != 0) ? 1 : 0,
                BinaryOp.Fmod => integer ? a - (b * Math.Truncate(a / b)) : (float)a % (float)b,
                _ => b == 0 ? throw new PlanException("integer modulo by zero in a constant.") : a - (b * Math.Floor(a / b)),
            };
        }

        if (integer)
        {
            return op switch
            {
                BinaryOp.Add => a + b,
                BinaryOp.Sub => a - b,
                BinaryOp.Mul => a * b,
                BinaryOp.Div => b == 0 ? throw new PlanException("integer division by zero in a constant.") : Math.Truncate(a / b),
                BinaryOp.Pow => Math.Pow(a, b),
                BinaryOp.Max => Math.Max(a, b),
                _ => Math.Min(a, b),
            };
        }

        float x = (float)a;
        float y = (float)b;
        return op switch
        {
            BinaryOp.Add => x + y,
            BinaryOp.Sub => x - y,
            BinaryOp.Mul => x * y,
            BinaryOp.Div => x / y,
            BinaryOp.Pow => MathF.Pow(x, y),
            BinaryOp.Max => MathF.Max(x, y),
            BinaryOp.PRelu => x >= 0 ? x : x * y,
            _ => MathF.Min(x, y),
        };
    }

    /// <summary>
    /// A unary kernel's share of rounding error (<see cref="PlanStep.Roundings"/>): Vulkan bounds exp to 3 + 2|x| ULP,
    /// log to 3 ULP, sqrt and division to 2.5–3 ULP, and sin and cos only to an absolute 2^-11 (8192 units of 2^-24).
    /// </summary>
    private static long UnaryRoundings(UnaryOp op) => op switch
    {
        UnaryOp.Sin or UnaryOp.Cos => 8192,
        UnaryOp.Sigmoid or UnaryOp.Tanh or UnaryOp.Sqrt or UnaryOp.Exp or UnaryOp.Log or UnaryOp.Reciprocal or UnaryOp.Elu
            or UnaryOp.Erf or UnaryOp.Gelu or UnaryOp.GeluTanh or UnaryOp.Softplus or UnaryOp.HardSwish => 8,
        UnaryOp.Affine or UnaryOp.HardSigmoid => 2,
        UnaryOp.Copy or UnaryOp.Relu or UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Clip or UnaryOp.Not or UnaryOp.Floor or UnaryOp.Ceil
            or UnaryOp.Round or UnaryOp.Trunc or UnaryOp.ToBool or UnaryOp.Sign => 0,
        _ => 1,
    };

    /// <summary>A softmax's share of rounding error: the sum of the row's exponentials, each exp and the division.</summary>
    private static long SoftmaxRoundings(int length) => (long)length + 16;

    private PlanValue Unary(UnaryOp op, PlanValue x, float alpha = 0, float beta = 0)
    {
        if (x.Constant is CpuTensor c)
        {
            var data = new double[c.Length];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = ApplyUnary(op, c.Data[i], alpha, beta);
            }

            return PlanValue.Of(new CpuTensor(c.Shape, data, IntegerResult(op, c.IsInteger)));
        }

        PlanValue output = NewGpu(x.Shape, IntegerResult(op, x.IsInteger));
        var push = new PushConstants().U(x.Count).U((uint)op).F(alpha).F(beta);
        Emit1D(KernelKind.Unary, [Gpu(x), output.Slot!], push, x.Count, UnaryRoundings(op));
        return output;
    }

    /// <summary>Whether a unary operator's result is an integer tensor: rounding and logic always, sign-like ones on integers.</summary>
    private static bool IntegerResult(UnaryOp op, bool integerInput) =>
        op is UnaryOp.Not or UnaryOp.ToBool or UnaryOp.Trunc or UnaryOp.Floor or UnaryOp.Ceil or UnaryOp.Round ||
        (integerInput && op is UnaryOp.Copy or UnaryOp.Relu or UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Clip or UnaryOp.Sign);

    /// <summary>True for the comparisons and logic operators, whose results are booleans.</summary>
    private static bool IsLogic(BinaryOp op) => op is >= BinaryOp.Equal and <= BinaryOp.Xor;

    private PlanValue Binary(BinaryOp op, PlanValue a, PlanValue b)
    {
        int[] shape = ShapeMath.Broadcast(a.Shape, b.Shape, op.ToString());
        int rank = shape.Length;
        int[] stridesA = ShapeMath.BroadcastStrides(a.Shape, rank);
        int[] stridesB = ShapeMath.BroadcastStrides(b.Shape, rank);
        long count = ShapeMath.Count(shape);
        if (a.Constant is CpuTensor ca && b.Constant is CpuTensor cb)
        {
            bool integer = ca.IsInteger && cb.IsInteger;
            bool integerResult = integer || IsLogic(op);
            var data = new double[count];
            int[] outStrides = ShapeMath.Strides(shape);
            for (int i = 0; i < count; i++)
            {
                int ia = 0;
                int ib = 0;
                int rest = i;
                for (int d = 0; d < rank; d++)
                {
                    int coordinate = rest / outStrides[d];
                    rest %= outStrides[d];
                    ia += coordinate * stridesA[d];
                    ib += coordinate * stridesB[d];
                }

                data[i] = ApplyBinary(op, ca.Data[ia], cb.Data[ib], integer);
            }

            return PlanValue.Of(new CpuTensor(shape, data, integerResult));
        }

        bool integers = a.IsInteger && b.IsInteger;
        if (integers && op == BinaryOp.Div)
        {
            op = BinaryOp.IntDiv;
        }

        // Merge neighbouring dims that broadcast alike, so tensors of rank above 6 still fit the kernel when they can.
        (int[] mergedShape, int[] mergedA, int[] mergedB) = Coalesce(shape, stridesA, stridesB);
        PlanValue output = NewGpu(shape, integers || IsLogic(op));
        var push = new PushConstants().U(count).U((uint)op)
            .Array(mergedShape, 6, 1, signed: false).Array(mergedA, 6, 0, signed: false).Array(mergedB, 6, 0, signed: false);
        Emit1D(KernelKind.Binary, [Gpu(a), Gpu(b), output.Slot!], push, count);
        return output;
    }

    private static (int[] Shape, int[] A, int[] B) Coalesce(int[] shape, int[] a, int[] b)
    {
        var s = new List<int>();
        var sa = new List<int>();
        var sb = new List<int>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
            {
                continue;
            }

            int last = s.Count - 1;
            if (last >= 0 && sa[last] == a[d] * shape[d] && sb[last] == b[d] * shape[d])
            {
                s[last] *= shape[d];
                sa[last] = a[d];
                sb[last] = b[d];
            }
            else
            {
                s.Add(shape[d]);
                sa.Add(a[d]);
                sb.Add(b[d]);
            }
        }

        return ([.. s], [.. sa], [.. sb]);
    }

    /// <summary>
    /// Copies the view of <paramref name="x"/> given by an iteration shape, offset and strides into a new contiguous
    /// tensor of <paramref name="outShape"/> (the iteration shape or a reshape of it).
    /// </summary>
    private PlanValue StridedCopy(PlanValue x, int[] outShape, int[] iteration, int inOffset, int[] inStrides)
    {
        long count = ShapeMath.Count(iteration);
        if (x.Constant is CpuTensor c)
        {
            var data = new double[count];
            int[] iterStrides = ShapeMath.Strides(iteration);
            for (int i = 0; i < count; i++)
            {
                int from = inOffset;
                int rest = i;
                for (int d = 0; d < iteration.Length; d++)
                {
                    from += rest / iterStrides[d] * inStrides[d];
                    rest %= iterStrides[d];
                }

                data[i] = c.Data[from];
            }

            return PlanValue.Of(new CpuTensor(outShape, data, c.IsInteger));
        }

        PlanValue output = NewGpu(outShape, x.IsInteger);
        CopyInto(x, output.Slot!, iteration, inOffset, inStrides, 0, ShapeMath.Strides(iteration));
        return output;
    }

    private void CopyInto(PlanValue x, Slot output, int[] iteration, int inOffset, int[] inStrides, int outOffset, int[] outStrides)
    {
        long count = ShapeMath.Count(iteration);
        (int[] shape, int[] from, int[] to) = Coalesce(iteration, inStrides, outStrides);
        var push = new PushConstants().U(count).I(inOffset).I(outOffset)
            .Array(shape, 6, 1, signed: false).Array(from, 6, 0, signed: true).Array(to, 6, 0, signed: true);
        Emit1D(KernelKind.StridedCopy, [Gpu(x), output], push, count);
    }

    /// <summary>A transpose of <paramref name="x"/> viewed as <paramref name="viewShape"/>, into <paramref name="outShape"/>.</summary>
    private PlanValue Permute(PlanValue x, int[] viewShape, int[] perm, int[] outShape)
    {
        int[] viewStrides = ShapeMath.Strides(viewShape);
        int[] iteration = perm.Select(p => viewShape[p]).ToArray();
        int[] strides = perm.Select(p => viewStrides[p]).ToArray();
        return StridedCopy(x, outShape, iteration, 0, strides);
    }

    private static PlanValue Alias(PlanValue x, int[] shape)
    {
        if (ShapeMath.Count(shape) != x.Count)
        {
            throw new PlanException($"cannot view {ShapeMath.Format(x.Shape)} as {ShapeMath.Format(shape)}.");
        }

        return x.Constant is CpuTensor c ? PlanValue.Of(new CpuTensor(shape, c.Data, c.IsInteger)) : PlanValue.OnGpu(shape, x.Slot!, x.IsInteger);
    }
}
