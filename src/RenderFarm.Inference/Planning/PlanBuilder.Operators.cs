using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Shape inference and lowering of each ONNX operator.</summary>
internal sealed partial class PlanBuilder
{
    private int Opset => _model.Opset;

    private PlanValue Variadic(NodeProto node, BinaryOp op, bool mean)
    {
        PlanValue result = Input(node, 0);
        for (int i = 1; i < node.Input.Count; i++)
        {
            result = Binary(op, result, Input(node, i));
        }

        return mean && node.Input.Count > 1 ? Unary(UnaryOp.Affine, result, 1f / node.Input.Count, 0f) : result;
    }

    private PlanValue Flatten(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int axis = (int)node.Int("axis", 1);
        axis = axis < 0 ? axis + x.Shape.Length : axis;
        if (axis < 0 || axis > x.Shape.Length)
        {
            throw new PlanException($"axis {node.Int("axis", 1)} is out of range for rank {x.Shape.Length}.");
        }

        return Alias(x, [ShapeMath.Product(x.Shape, 0, axis), ShapeMath.Product(x.Shape, axis, x.Shape.Length)]);
    }

    private PlanValue Transpose(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int[] perm = node.Ints("perm")?.Select(p => ShapeMath.Axis(p, rank, "Transpose")).ToArray()
            ?? Enumerable.Range(0, rank).Reverse().ToArray();
        if (perm.Length != rank || perm.Distinct().Count() != rank)
        {
            throw new PlanException($"perm [{string.Join(", ", perm)}] is not a permutation of {rank} axes.");
        }

        return Permute(x, x.Shape, perm, perm.Select(p => x.Shape[p]).ToArray());
    }

    private PlanValue Expand(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int[] target = ToShape(ConstantInput(node, 1));
        int[] shape = ShapeMath.Broadcast(x.Shape, target, "Expand");
        return StridedCopy(x, shape, shape, 0, ShapeMath.BroadcastStrides(x.Shape, shape.Length));
    }

    private static CpuTensor ConstantAttribute(NodeProto node)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            switch (attribute.Name)
            {
                case "value":
                    return CpuTensor.FromProto(attribute.T);
                case "value_float":
                    return CpuTensor.Scalar(attribute.F, false);
                case "value_int":
                    return CpuTensor.Scalar(attribute.I, true);
                case "value_floats":
                    return new CpuTensor([attribute.Floats.Count], attribute.Floats.Select(f => (double)f).ToArray(), false);
                case "value_ints":
                    return CpuTensor.Vector(attribute.Ints);
                default:
                    break;
            }
        }

        throw new PlanException("it has no supported value attribute (sparse and string constants are not supported).");
    }

    private static int[] ToShape(CpuTensor tensor)
    {
        long[] values = tensor.ToLongs();
        var shape = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] > int.MaxValue)
            {
                throw new PlanException($"shape [{string.Join(", ", values)}] has an invalid dimension.");
            }

            shape[i] = (int)values[i];
        }

        return shape;
    }

    private PlanValue Cast(PlanValue x, long to)
    {
        var type = (TensorProto.Types.DataType)to;
        bool integer = type is not (TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or
            TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16);
        if (x.Constant is not CpuTensor c)
        {
            // Every tensor is float32 on the device: a cast to a float type keeps the values (float16 and bfloat16 are
            // computed at single precision), one to an integer type truncates toward zero, one to bool tests for non-zero.
            if (type == TensorProto.Types.DataType.Bool)
            {
                return Unary(UnaryOp.ToBool, x);
            }

            if (integer)
            {
                return x.IsInteger ? PlanValue.OnGpu(x.Shape, x.Slot!, isInteger: true) : Unary(UnaryOp.Trunc, x);
            }

            return PlanValue.OnGpu(x.Shape, x.Slot!, isInteger: false);
        }

        var data = new double[c.Length];
        for (int i = 0; i < data.Length; i++)
        {
            double v = c.Data[i];
            data[i] = type switch
            {
                TensorProto.Types.DataType.Bool => v != 0 ? 1 : 0,
                TensorProto.Types.DataType.Float => (float)v,
                TensorProto.Types.DataType.Float16 => (double)(Half)v,
                _ when integer => Math.Truncate(v),
                _ => v,
            };
        }

        return PlanValue.Of(new CpuTensor(c.Shape, data, integer));
    }

    private PlanValue ShapeOf(NodeProto node)
    {
        int[] shape = Input(node, 0).Shape;
        int rank = shape.Length;
        long start = node.Int("start", 0);
        long end = node.Int("end", rank);
        start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
        return PlanValue.Of(CpuTensor.Vector(shape.Skip((int)start).Take((int)Math.Max(0, end - start)).Select(d => (long)d).ToArray()));
    }

    /// <summary>
    /// The most elements a tensor made while planning from a few numbers (ConstantOfShape, Range) may have: a model
    /// of a few bytes must not make the planner, which the coordinator runs too, allocate gigabytes.
    /// </summary>
    internal const long MaxFoldedElements = 1L << 24;

    private static long CheckFolded(long count) => count <= MaxFoldedElements
        ? count
        : throw new PlanException($"a constant of {count} elements is too large to compute while planning (at most {MaxFoldedElements}).");

    private PlanValue ConstantOfShape(NodeProto node)
    {
        int[] shape = ToShape(ConstantInput(node, 0));
        AttributeProto? value = node.Attribute("value");
        CpuTensor fill = value is null ? CpuTensor.Scalar(0, false) : CpuTensor.FromProto(value.T);
        var data = new double[CheckFolded(ShapeMath.Count(shape))];
        Array.Fill(data, fill.Data.Length > 0 ? fill.Data[0] : 0);
        return PlanValue.Of(new CpuTensor(shape, data, fill.IsInteger));
    }

    private PlanValue Range(NodeProto node)
    {
        CpuTensor start = ConstantInput(node, 0);
        double first = start.Data[0];
        double limit = ConstantInput(node, 1).Data[0];
        double delta = ConstantInput(node, 2).Data[0];
        if (delta == 0)
        {
            throw new PlanException("delta is zero.");
        }

        double steps = Math.Max(0, Math.Ceiling((limit - first) / delta));
        int count = (int)CheckFolded(double.IsNaN(steps) ? long.MaxValue : (long)Math.Min(steps, long.MaxValue));
        var data = new double[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = first + (i * delta);
        }

        return PlanValue.Of(new CpuTensor([count], data, start.IsInteger));
    }

    private PlanValue Clip(NodeProto node)
    {
        float min = float.NegativeInfinity;
        float max = float.PositiveInfinity;
        CpuTensor? low = OptionalConstant(node, 1);
        CpuTensor? high = OptionalConstant(node, 2);
        if (low is not null && low.Length > 0)
        {
            min = (float)low.Data[0];
        }

        if (high is not null && high.Length > 0)
        {
            max = (float)high.Data[0];
        }

        return Unary(UnaryOp.Clip, Input(node, 0), min, max);
    }

    private PlanValue Where(NodeProto node) => WhereValues(Input(node, 0), Input(node, 1), Input(node, 2));

    private PlanValue WhereValues(PlanValue condition, PlanValue x, PlanValue y)
    {
        int[] shape = ShapeMath.Broadcast(ShapeMath.Broadcast(condition.Shape, x.Shape, "Where"), y.Shape, "Where");
        bool integer = x.IsInteger && y.IsInteger;
        if (condition.Constant is CpuTensor cc && x.Constant is CpuTensor cx && y.Constant is CpuTensor cy)
        {
            return PlanValue.Of(new CpuTensor(shape, Broadcast3(shape, cc, cx, cy, (c, u, v) => c != 0 ? u : v), integer));
        }

        // Size-1 dimensions carry no stride; dropping them lets ranks above 6 fit the kernel.
        int rank = shape.Length;
        int[] keep = Enumerable.Range(0, rank).Where(d => shape[d] != 1).ToArray();
        int[] Strides(PlanValue v) => ShapeMath.BroadcastStrides(v.Shape, rank) is var all ? keep.Select(d => all[d]).ToArray() : [];
        PlanValue output = NewGpu(shape, integer);
        long count = output.Count;
        if (count == 0)
        {
            return output;
        }

        int[] kept = keep.Select(d => shape[d]).ToArray();
        var push = new PushConstants().U(count).Array(kept, 6, 1, signed: false)
            .Array(Strides(condition), 6, 0, signed: false).Array(Strides(x), 6, 0, signed: false).Array(Strides(y), 6, 0, signed: false);
        Emit1D(KernelKind.Where, [Gpu(condition), Gpu(x), Gpu(y), output.Slot!], push, count);
        return output;
    }

    private static double[] Broadcast3(int[] shape, CpuTensor a, CpuTensor b, CpuTensor c, Func<double, double, double, double> f)
    {
        int rank = shape.Length;
        int[] sa = ShapeMath.BroadcastStrides(a.Shape, rank);
        int[] sb = ShapeMath.BroadcastStrides(b.Shape, rank);
        int[] sc = ShapeMath.BroadcastStrides(c.Shape, rank);
        int[] strides = ShapeMath.Strides(shape);
        var data = new double[ShapeMath.Count(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            int ia = 0;
            int ib = 0;
            int ic = 0;
            int rest = i;
            for (int d = 0; d < rank; d++)
            {
                int coordinate = rest / strides[d];
                rest %= strides[d];
                ia += coordinate * sa[d];
                ib += coordinate * sb[d];
                ic += coordinate * sc[d];
            }

            data[i] = f(a.Data[ia], b.Data[ib], c.Data[ic]);
        }

        return data;
    }

    private PlanValue Gather(NodeProto node)
    {
        PlanValue data = Input(node, 0);
        int rank = data.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", 0), rank, "Gather");
        int axisLength = data.Shape[axis];
        if (Input(node, 1) is { Constant: null } computed)
        {
            // Indices computed at run time (token ids into an embedding table): checked on the device.
            int[] outShape = [.. data.Shape.Take(axis), .. computed.Shape, .. data.Shape.Skip(axis + 1)];
            PlanValue gathered = NewGpu(outShape, data.IsInteger);
            if (gathered.Count > 0)
            {
                var push = new PushConstants().U(gathered.Count).U(axisLength).U(computed.Count).U(ShapeMath.Product(data.Shape, axis + 1, rank));
                Emit1D(KernelKind.GatherIndices, [Gpu(data), Gpu(computed), gathered.Slot!], push, gathered.Count);
            }

            return gathered;
        }

        CpuTensor indices = ConstantInput(node, 1);
        long[] raw = indices.ToLongs();
        var normalized = new uint[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            long index = raw[i] < 0 ? raw[i] + axisLength : raw[i];
            if (index < 0 || index >= axisLength)
            {
                throw new PlanException($"index {raw[i]} is out of range for an axis of length {axisLength}.");
            }

            normalized[i] = (uint)index;
        }

        int[] shape = [.. data.Shape.Take(axis), .. indices.Shape, .. data.Shape.Skip(axis + 1)];
        int outer = ShapeMath.Product(data.Shape, 0, axis);
        int inner = ShapeMath.Product(data.Shape, axis + 1, rank);
        if (data.Constant is CpuTensor c)
        {
            var values = new double[ShapeMath.Count(shape)];
            int at = 0;
            for (int o = 0; o < outer; o++)
            {
                foreach (uint index in normalized)
                {
                    Array.Copy(c.Data, ((o * axisLength) + (int)index) * inner, values, at, inner);
                    at += inner;
                }
            }

            return PlanValue.Of(new CpuTensor(shape, values, c.IsInteger));
        }

        PlanValue output = NewGpu(shape, data.IsInteger);
        if (output.Count > 0)
        {
            var push = new PushConstants().U(output.Count).U(axisLength).U(normalized.Length).U(inner);
            Emit1D(KernelKind.Gather, [Gpu(data), UploadWords(normalized), output.Slot!], push, output.Count);
        }

        return output;
    }
}
