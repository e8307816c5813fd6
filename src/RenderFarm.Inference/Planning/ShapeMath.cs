namespace RenderFarm.Inference.Planning;

/// <summary>Shape helpers shared by the planner and the CPU folding of constants.</summary>
internal static class ShapeMath
{
    public static long Count(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
        }

        return count;
    }

    public static int Product(IReadOnlyList<int> shape, int from, int to)
    {
        long count = 1;
        for (int i = from; i < to; i++)
        {
            count *= shape[i];
        }

        return checked((int)count);
    }

    public static int[] Strides(IReadOnlyList<int> shape)
    {
        var strides = new int[shape.Count];
        int stride = 1;
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }

        return strides;
    }

    public static string Format(IReadOnlyList<int> shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>Normalizes a possibly negative axis against <paramref name="rank"/>.</summary>
    public static int Axis(long axis, int rank, string op)
    {
        long normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank)
        {
            throw new PlanException($"{op}: axis {axis} is out of range for a tensor of rank {rank}.");
        }

        return (int)normalized;
    }

    /// <summary>The numpy broadcast of two shapes.</summary>
    public static int[] Broadcast(IReadOnlyList<int> a, IReadOnlyList<int> b, string op)
    {
        int rank = Math.Max(a.Count, b.Count);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Count) >= 0 ? a[i - (rank - a.Count)] : 1;
            int db = i - (rank - b.Count) >= 0 ? b[i - (rank - b.Count)] : 1;
            if (da != db && da != 1 && db != 1)
            {
                throw new PlanException($"{op}: shapes {Format(a)} and {Format(b)} do not broadcast.");
            }

            result[i] = da == 1 ? db : da;
        }

        return result;
    }

    /// <summary>Element strides of <paramref name="shape"/> right-aligned in a broadcast to <paramref name="rank"/> dims; 0 on broadcast dims.</summary>
    public static int[] BroadcastStrides(IReadOnlyList<int> shape, int rank)
    {
        int[] own = Strides(shape);
        var result = new int[rank];
        for (int i = 0; i < shape.Count; i++)
        {
            int target = rank - shape.Count + i;
            result[target] = shape[i] == 1 ? 0 : own[i];
        }

        return result;
    }
}

/// <summary>A model that cannot be planned for the given shapes; surfaces as a <see cref="Core.UserInputException"/>.</summary>
internal sealed class PlanException : Exception
{
    public PlanException(string message)
        : base(message)
    {
    }
}
