namespace RenderFarm.Rendering.Acceleration;

/// <summary>The closest intersection of a ray with a <see cref="Bvh"/>.</summary>
/// <param name="Triangle">Index of the hit triangle in BVH order (see <see cref="Bvh.TriangleOrder"/>).</param>
/// <param name="T">Distance along the ray in units of the direction's length.</param>
/// <param name="U">Barycentric weight of the triangle's second vertex.</param>
/// <param name="V">Barycentric weight of the triangle's third vertex.</param>
public readonly record struct BvhHit(int Triangle, float T, float U, float V);
