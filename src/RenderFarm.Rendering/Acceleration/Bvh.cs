using System.Numerics;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Acceleration;

/// <summary>
/// A bounding volume hierarchy over triangles, built on the CPU with binned SAH and stored in the
/// <see cref="GpuBvhNode"/> layout the path tracer traverses: root at index 0, the children of an
/// interior node at <see cref="GpuBvhNode.LeftOrFirst"/> and the slot after it, leaves holding a
/// contiguous run of triangles in <see cref="TriangleOrder"/>.
/// </summary>
public sealed class Bvh
{
    /// <summary>SAH bins per axis.</summary>
    public const int BinCount = 16;

    /// <summary>Most triangles in one leaf.</summary>
    public const int MaxLeafSize = 4;

    /// <summary>
    /// Depth below which nodes split by SAH; deeper nodes split at the centroid median, which bounds
    /// <see cref="MaxDepth"/> by this plus log2 of the triangle count even for pathological inputs.
    /// </summary>
    public const int SahDepthLimit = 32;

    // Cost of one traversal step relative to one triangle test.
    private const float TraversalCost = 1f;

    // Widens the far slab distance so rounding never culls a box the ray touches (Ize, "Robust BVH Ray Traversal").
    private const float SlabTolerance = 1f + 4e-7f;

    private readonly Vector3[] _vertices;

    private Bvh(GpuBvhNode[] nodes, int[] triangleOrder, Vector3[] vertices, int maxDepth)
    {
        Nodes = nodes;
        TriangleOrder = triangleOrder;
        _vertices = vertices;
        MaxDepth = maxDepth;
    }

    /// <summary>The nodes; the root is node 0.</summary>
    public GpuBvhNode[] Nodes { get; }

    /// <summary>For each triangle slot in BVH order, the index of the triangle in the input.</summary>
    public int[] TriangleOrder { get; }

    /// <summary>Number of triangles.</summary>
    public int TriangleCount => TriangleOrder.Length;

    /// <summary>Edges on the longest root-to-leaf path (0 when the root is a leaf); a traversal stack needs one entry more.</summary>
    public int MaxDepth { get; }

    /// <summary>Builds the hierarchy over triangles given as consecutive vertex triples.</summary>
    /// <param name="vertices">Three vertices per triangle; at least one triangle.</param>
    /// <exception cref="ArgumentException">The vertex count is zero or not a multiple of three.</exception>
    public static Bvh Build(ReadOnlySpan<Vector3> vertices)
    {
        if (vertices.Length == 0 || vertices.Length % 3 != 0)
        {
            throw new ArgumentException("Expected a positive multiple of three vertices.", nameof(vertices));
        }

        return new Builder(vertices).Build();
    }

    /// <summary>Finds the closest triangle the ray hits at a distance in (0, <paramref name="tMax"/>).</summary>
    /// <param name="origin">Ray origin.</param>
    /// <param name="direction">Ray direction; need not be unit length (t is in its units).</param>
    /// <param name="tMax">Hits at or beyond this distance are ignored.</param>
    /// <param name="hit">The closest hit, triangle index in BVH order.</param>
    /// <returns>Whether anything was hit.</returns>
    public bool Intersect(Vector3 origin, Vector3 direction, float tMax, out BvhHit hit)
    {
        Vector3 invDir = new(SafeInverse(direction.X), SafeInverse(direction.Y), SafeInverse(direction.Z));
        GpuBvhNode[] nodes = Nodes;
        Vector3[] vertices = _vertices;
        Span<int> stack = MaxDepth < 128 ? stackalloc int[128] : new int[MaxDepth + 1];
        int stackSize = 0;
        float best = tMax;
        int bestTriangle = -1;
        float bestU = 0, bestV = 0;

        int current = IntersectBox(nodes[0], origin, invDir, best) < float.PositiveInfinity ? 0 : -1;
        while (current >= 0)
        {
            ref readonly GpuBvhNode node = ref nodes[current];
            if (node.Count > 0)
            {
                int first = (int)node.LeftOrFirst;
                int end = first + (int)node.Count;
                for (int i = first; i < end; i++)
                {
                    if (IntersectTriangle(origin, direction, vertices[3 * i], vertices[(3 * i) + 1], vertices[(3 * i) + 2], out float t, out float u, out float v)
                        && t < best)
                    {
                        best = t;
                        bestTriangle = i;
                        bestU = u;
                        bestV = v;
                    }
                }
            }
            else
            {
                int left = (int)node.LeftOrFirst;
                float tLeft = IntersectBox(nodes[left], origin, invDir, best);
                float tRight = IntersectBox(nodes[left + 1], origin, invDir, best);
                int near = tLeft <= tRight ? left : left + 1;
                int far = near == left ? left + 1 : left;
                float tNear = Math.Min(tLeft, tRight);
                float tFar = Math.Max(tLeft, tRight);
                if (tNear < float.PositiveInfinity)
                {
                    if (tFar < float.PositiveInfinity)
                    {
                        stack[stackSize++] = far;
                    }

                    current = near;
                    continue;
                }
            }

            current = -1;
            while (stackSize > 0)
            {
                int candidate = stack[--stackSize];

                // The closest hit may have shrunk since the node was pushed.
                if (IntersectBox(nodes[candidate], origin, invDir, best) < float.PositiveInfinity)
                {
                    current = candidate;
                    break;
                }
            }
        }

        hit = new BvhHit(bestTriangle, best, bestU, bestV);
        return bestTriangle >= 0;
    }

    /// <summary>Möller–Trumbore ray/triangle test, two-sided; reports hits with t &gt; 0.</summary>
    /// <param name="origin">Ray origin.</param>
    /// <param name="direction">Ray direction.</param>
    /// <param name="v0">First vertex.</param>
    /// <param name="v1">Second vertex.</param>
    /// <param name="v2">Third vertex.</param>
    /// <param name="t">Distance along the ray.</param>
    /// <param name="u">Barycentric weight of <paramref name="v1"/>.</param>
    /// <param name="v">Barycentric weight of <paramref name="v2"/>.</param>
    /// <returns>Whether the ray hits the triangle in front of its origin.</returns>
    public static bool IntersectTriangle(
        Vector3 origin, Vector3 direction, Vector3 v0, Vector3 v1, Vector3 v2, out float t, out float u, out float v)
    {
        t = u = v = 0;
        Vector3 edge1 = v1 - v0;
        Vector3 edge2 = v2 - v0;
        Vector3 p = Vector3.Cross(direction, edge2);
        float det = Vector3.Dot(edge1, p);

        // Zero-area triangles and rays in the triangle's plane have det == 0; they never hit.
        if (det == 0 || !float.IsFinite(det))
        {
            return false;
        }

        float invDet = 1 / det;
        Vector3 s = origin - v0;
        u = Vector3.Dot(s, p) * invDet;
        if (u < 0 || u > 1)
        {
            return false;
        }

        Vector3 q = Vector3.Cross(s, edge1);
        v = Vector3.Dot(direction, q) * invDet;
        if (v < 0 || u + v > 1)
        {
            return false;
        }

        t = Vector3.Dot(edge2, q) * invDet;
        return t > 0;
    }

    // Entry distance into the box, or +infinity when the ray misses it or enters beyond tBest.
    private static float IntersectBox(in GpuBvhNode node, Vector3 origin, Vector3 invDir, float tBest)
    {
        Vector3 t0 = (node.Min - origin) * invDir;
        Vector3 t1 = (node.Max - origin) * invDir;
        Vector3 tSmall = Vector3.Min(t0, t1);
        Vector3 tBig = Vector3.Max(t0, t1);
        float tNear = MathF.Max(MathF.Max(tSmall.X, tSmall.Y), MathF.Max(tSmall.Z, 0));
        float tFar = MathF.Min(MathF.Min(tBig.X, tBig.Y), MathF.Min(tBig.Z, tBest)) * SlabTolerance;
        return tNear <= tFar ? tNear : float.PositiveInfinity;
    }

    // A huge finite inverse for zero components keeps 0 * inverse at 0 instead of NaN.
    private static float SafeInverse(float d) => 1 / (MathF.Abs(d) < 1e-30f ? MathF.CopySign(1e-30f, d) : d);

    private static float HalfArea(Vector3 min, Vector3 max)
    {
        Vector3 e = max - min;
        return e.X < 0 ? 0 : (e.X * e.Y) + (e.Y * e.Z) + (e.Z * e.X);
    }

    private static float Component(Vector3 v, int axis) => axis == 0 ? v.X : axis == 1 ? v.Y : v.Z;

    private sealed class Builder
    {
        private readonly int _count;
        private readonly Vector3[] _vertices;
        private readonly Vector3[] _centroids;
        private readonly Vector3[] _boundsMin;
        private readonly Vector3[] _boundsMax;
        private readonly int[] _indices;
        private readonly GpuBvhNode[] _nodes;
        private readonly int[] _binCounts = new int[3 * BinCount];
        private readonly Vector3[] _binMin = new Vector3[3 * BinCount];
        private readonly Vector3[] _binMax = new Vector3[3 * BinCount];
        private readonly float[] _rightCost = new float[BinCount];
        private float[]? _sortKeys;
        private int _nodeCount;

        public Builder(ReadOnlySpan<Vector3> vertices)
        {
            _count = vertices.Length / 3;
            _vertices = vertices.ToArray();
            _centroids = new Vector3[_count];
            _boundsMin = new Vector3[_count];
            _boundsMax = new Vector3[_count];
            _indices = new int[_count];
            _nodes = new GpuBvhNode[(2 * _count) - 1];
            for (int i = 0; i < _count; i++)
            {
                Vector3 a = vertices[3 * i];
                Vector3 b = vertices[(3 * i) + 1];
                Vector3 c = vertices[(3 * i) + 2];
                Vector3 min = Vector3.Min(a, Vector3.Min(b, c));
                Vector3 max = Vector3.Max(a, Vector3.Max(b, c));
                _boundsMin[i] = min;
                _boundsMax[i] = max;
                _centroids[i] = (min + max) * 0.5f;
                _indices[i] = i;
            }
        }

        public Bvh Build()
        {
            var work = new Stack<(int Node, int Start, int Count, int Depth)>();
            work.Push((0, 0, _count, 0));
            _nodeCount = 1;
            int maxDepth = 0;
            while (work.Count > 0)
            {
                (int nodeIndex, int start, int count, int depth) = work.Pop();
                maxDepth = Math.Max(maxDepth, depth);
                ComputeBounds(start, count, out Vector3 min, out Vector3 max, out Vector3 centroidMin, out Vector3 centroidMax);
                ref GpuBvhNode node = ref _nodes[nodeIndex];
                node.Min = min;
                node.Max = max;

                int leftCount = count <= 1 ? 0 : Split(start, count, depth, min, max, centroidMin, centroidMax);
                if (leftCount == 0)
                {
                    node.LeftOrFirst = (uint)start;
                    node.Count = (uint)count;
                    continue;
                }

                int left = _nodeCount;
                _nodeCount += 2;
                node.LeftOrFirst = (uint)left;
                node.Count = 0;
                work.Push((left + 1, start + leftCount, count - leftCount, depth + 1));
                work.Push((left, start, leftCount, depth + 1));
            }

            GpuBvhNode[] nodes = _nodes;
            if (_nodeCount != nodes.Length)
            {
                Array.Resize(ref nodes, _nodeCount);
            }

            var ordered = new Vector3[_vertices.Length];
            for (int i = 0; i < _count; i++)
            {
                int source = _indices[i];
                ordered[3 * i] = _vertices[3 * source];
                ordered[(3 * i) + 1] = _vertices[(3 * source) + 1];
                ordered[(3 * i) + 2] = _vertices[(3 * source) + 2];
            }

            return new Bvh(nodes, _indices, ordered, maxDepth);
        }

        private void ComputeBounds(int start, int count, out Vector3 min, out Vector3 max, out Vector3 centroidMin, out Vector3 centroidMax)
        {
            min = centroidMin = new Vector3(float.PositiveInfinity);
            max = centroidMax = new Vector3(float.NegativeInfinity);
            for (int i = start; i < start + count; i++)
            {
                int tri = _indices[i];
                min = Vector3.Min(min, _boundsMin[tri]);
                max = Vector3.Max(max, _boundsMax[tri]);
                centroidMin = Vector3.Min(centroidMin, _centroids[tri]);
                centroidMax = Vector3.Max(centroidMax, _centroids[tri]);
            }
        }

        // Partitions [start, start+count) and returns the size of the left part, or 0 to make a leaf.
        private int Split(int start, int count, int depth, Vector3 min, Vector3 max, Vector3 centroidMin, Vector3 centroidMax)
        {
            Vector3 extent = centroidMax - centroidMin;
            int widestAxis = extent.X >= extent.Y && extent.X >= extent.Z ? 0 : extent.Y >= extent.Z ? 1 : 2;
            if (Component(extent, widestAxis) <= 0)
            {
                // Every centroid coincides: no plane separates them, so cut the run in half by index.
                return count <= MaxLeafSize ? 0 : count / 2;
            }

            if (depth >= SahDepthLimit)
            {
                return count <= MaxLeafSize ? 0 : MedianSplit(start, count, widestAxis);
            }

            float bestCost = float.PositiveInfinity;
            int bestAxis = -1;
            int bestBin = -1;
            Vector3 scale = new(
                extent.X > 0 ? BinCount / extent.X : 0,
                extent.Y > 0 ? BinCount / extent.Y : 0,
                extent.Z > 0 ? BinCount / extent.Z : 0);
            FillBins(start, count, centroidMin, scale);
            for (int axis = 0; axis < 3; axis++)
            {
                if (Component(extent, axis) <= 0)
                {
                    continue;
                }

                // Sweep from the right to get the cost of every right part, then from the left.
                int bins = axis * BinCount;
                Vector3 accMin = new(float.PositiveInfinity);
                Vector3 accMax = new(float.NegativeInfinity);
                int accCount = 0;
                for (int b = BinCount - 1; b > 0; b--)
                {
                    accCount += _binCounts[bins + b];
                    accMin = Vector3.Min(accMin, _binMin[bins + b]);
                    accMax = Vector3.Max(accMax, _binMax[bins + b]);
                    _rightCost[b] = accCount == 0 ? float.NaN : accCount * HalfArea(accMin, accMax);
                }

                accMin = new Vector3(float.PositiveInfinity);
                accMax = new Vector3(float.NegativeInfinity);
                accCount = 0;
                for (int b = 0; b < BinCount - 1; b++)
                {
                    accCount += _binCounts[bins + b];
                    accMin = Vector3.Min(accMin, _binMin[bins + b]);
                    accMax = Vector3.Max(accMax, _binMax[bins + b]);
                    float right = _rightCost[b + 1];
                    if (accCount == 0 || float.IsNaN(right))
                    {
                        continue;
                    }

                    float cost = (accCount * HalfArea(accMin, accMax)) + right;
                    if (cost < bestCost)
                    {
                        bestCost = cost;
                        bestAxis = axis;
                        bestBin = b;
                    }
                }
            }

            if (bestAxis < 0)
            {
                return count <= MaxLeafSize ? 0 : MedianSplit(start, count, widestAxis);
            }

            float area = HalfArea(min, max);
            if (count <= MaxLeafSize && area > 0 && (TraversalCost + (bestCost / area)) >= count)
            {
                return 0;
            }

            float splitMin = Component(centroidMin, bestAxis);
            float splitScale = Component(scale, bestAxis);
            int i = start;
            int j = start + count - 1;
            while (i <= j)
            {
                if (BinOf(Component(_centroids[_indices[i]], bestAxis), splitMin, splitScale) <= bestBin)
                {
                    i++;
                }
                else
                {
                    (_indices[i], _indices[j]) = (_indices[j], _indices[i]);
                    j--;
                }
            }

            // Binning and partition use the same arithmetic, so both sides are non-empty; the guard keeps
            // the build finite even if non-finite input made them disagree.
            int leftCount = i - start;
            return leftCount > 0 && leftCount < count ? leftCount : count / 2;
        }

        // Bins the run along all three axes in one pass; an axis with zero extent has scale 0 and lands in bin 0.
        private void FillBins(int start, int count, Vector3 origin, Vector3 scale)
        {
            Array.Clear(_binCounts);
            Array.Fill(_binMin, new Vector3(float.PositiveInfinity));
            Array.Fill(_binMax, new Vector3(float.NegativeInfinity));
            for (int i = start; i < start + count; i++)
            {
                int tri = _indices[i];
                Vector3 c = _centroids[tri];
                Vector3 min = _boundsMin[tri];
                Vector3 max = _boundsMax[tri];
                int bx = BinOf(c.X, origin.X, scale.X);
                int by = BinCount + BinOf(c.Y, origin.Y, scale.Y);
                int bz = (2 * BinCount) + BinOf(c.Z, origin.Z, scale.Z);
                _binCounts[bx]++;
                _binCounts[by]++;
                _binCounts[bz]++;
                _binMin[bx] = Vector3.Min(_binMin[bx], min);
                _binMax[bx] = Vector3.Max(_binMax[bx], max);
                _binMin[by] = Vector3.Min(_binMin[by], min);
                _binMax[by] = Vector3.Max(_binMax[by], max);
                _binMin[bz] = Vector3.Min(_binMin[bz], min);
                _binMax[bz] = Vector3.Max(_binMax[bz], max);
            }
        }

        private static int BinOf(float value, float axisMin, float scale)
        {
            int b = (int)((value - axisMin) * scale);
            return b < 0 ? 0 : b >= BinCount ? BinCount - 1 : b;
        }

        private int MedianSplit(int start, int count, int axis)
        {
            float[] keys = _sortKeys ??= new float[_count];
            for (int i = start; i < start + count; i++)
            {
                keys[i] = Component(_centroids[_indices[i]], axis);
            }

            Array.Sort(keys, _indices, start, count);
            return count / 2;
        }
    }
}
