using System.Numerics;

namespace RenderFarm.Rendering.Scene;

/// <summary>Vector helpers that stay defined for degenerate input.</summary>
internal static class VectorMath
{
    /// <summary>The unit vector along <paramref name="v"/>, or zero where it has no finite length.</summary>
    internal static Vector3 SafeNormalize(Vector3 v)
    {
        float length = v.Length();
        return length > 0 && float.IsFinite(length) ? v / length : Vector3.Zero;
    }
}
