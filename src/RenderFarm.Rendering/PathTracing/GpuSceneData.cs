namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// One frame of a scene packed for the path tracer's storage buffers. Arrays may be empty; the
/// uploader pads them. <see cref="GpuFrameParams.Width"/>, <see cref="GpuFrameParams.Height"/>,
/// <see cref="GpuFrameParams.Seed"/>, <see cref="GpuFrameParams.Frame"/> and
/// <see cref="GpuFrameParams.MaxBounces"/> are left 0 for the caller to fill.
/// </summary>
public sealed class GpuSceneData
{
    /// <summary>BVH nodes; the root is node 0.</summary>
    public required GpuBvhNode[] Nodes { get; init; }

    /// <summary>World-space triangles in BVH leaf order.</summary>
    public required GpuTriangle[] Triangles { get; init; }

    /// <summary>Shading attributes, same order as <see cref="Triangles"/>.</summary>
    public required GpuTriangleShading[] Shading { get; init; }

    /// <summary>Materials referenced by <see cref="GpuTriangle.Material"/>.</summary>
    public required GpuMaterial[] Materials { get; init; }

    /// <summary>Textures referenced by the materials.</summary>
    public required GpuTexture[] Textures { get; init; }

    /// <summary>RGBA8 texels of all textures (R in the low byte).</summary>
    public required uint[] Texels { get; init; }

    /// <summary>Emissive triangles with their selection CDF.</summary>
    public required GpuEmitter[] Emitters { get; init; }

    /// <summary>Punctual lights in world space.</summary>
    public required GpuLight[] Lights { get; init; }

    /// <summary>
    /// The instances of a two-level BVH, in top-level leaf order; empty for a single-level one. With instances,
    /// <see cref="Nodes"/> holds the top level (root 0) and then each mesh's BVH, and <see cref="Triangles"/> the world-space
    /// triangles of the flattened meshes first and then each shared mesh's triangles in its own space.
    /// </summary>
    public GpuInstance[] Instances { get; init; } = [];

    /// <summary>Camera and counts of this frame.</summary>
    public required GpuFrameParams FrameParams { get; init; }
}
