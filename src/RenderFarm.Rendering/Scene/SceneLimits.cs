namespace RenderFarm.Rendering.Scene;

/// <summary>
/// The budgets every scene is held to before memory or work is spent on it, on the coordinator at upload, on a
/// worker before it renders, and on the command line before it packs or submits. A scene past any of them is
/// refused with one line naming the limit and the scene's value.
/// </summary>
/// <remarks>
/// The defaults leave room for detailed scenes (millions of triangles, tens of thousands of nodes) and keep the
/// worst a single scene can cost at a few GiB: about 400 bytes of frame buffers per drawn triangle and 4 bytes
/// per decoded texel. The texel budget (sixteen 2048² or four 4096² textures) is the tightest for real work;
/// it already exceeds what some devices can bind as one texel buffer (lavapipe: 128 MiB, 32 Mi texels).
/// </remarks>
public static class SceneLimits
{
    /// <summary>Deepest nesting of JSON objects and arrays in a glTF document.</summary>
    public const int MaxJsonDepth = 64;

    /// <summary>Most nodes in the file, and most node instances in the default scene's tree.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Most meshes in the file.</summary>
    public const int MaxMeshes = 100_000;

    /// <summary>Most accessors in the file.</summary>
    public const int MaxAccessors = 400_000;

    /// <summary>Most elements one accessor may declare (10 M triangles' worth of indices).</summary>
    public const long MaxAccessorElements = 30_000_000;

    /// <summary>
    /// Most elements of all accessors together. An accessor without a buffer view is all zeros of its declared
    /// length, so counts are bounded here rather than by the file's size.
    /// </summary>
    public const long MaxTotalAccessorElements = 120_000_000;

    /// <summary>
    /// Most triangles stored per frame: each node's mesh once per node, except that a static mesh shared by several nodes
    /// (drawn through instances of a two-level BVH) counts once. What the frame's buffers hold grows with this.
    /// </summary>
    public const long MaxTriangles = 10_000_000;

    /// <summary>
    /// Most triangles drawn per frame, every node instance counted (a mesh used by N nodes counts N times). Instances of a
    /// shared mesh cost an instance record each, not their triangles, so this bounds the triangles' count, not memory.
    /// </summary>
    public const long MaxInstancedTriangles = 1_000_000_000;

    /// <summary>Most node instances drawing a shared mesh (each is a 112-byte instance record and a top-level BVH leaf entry).</summary>
    public const int MaxInstances = MaxNodes;

    /// <summary>Most images in the file.</summary>
    public const int MaxImages = 4_096;

    /// <summary>Longest side of an image, in pixels, read from its header before it is decoded.</summary>
    public const int MaxImageSide = 16_384;

    /// <summary>
    /// Most texels decoded for the whole scene (64 Mi: one 8192² texture or four 4096² ones), summed over the
    /// image headers before any image is decoded; an image used both as colour and as data counts twice.
    /// </summary>
    public const long MaxTexels = 64L * 1024 * 1024;

    /// <summary>Most bytes of a buffer's declared <c>byteLength</c>, and of all of a scene's files together.</summary>
    public const long MaxBundleBytes = 512L * 1024 * 1024;

    /// <summary>Most animation channels of all animations together (their keys are bounded as accessors).</summary>
    public const int MaxAnimationChannels = 100_000;

    /// <summary>Most joints in one skin (a film character rig has a few hundred).</summary>
    public const int MaxJointsPerSkin = 1_024;

    /// <summary>Most morph targets of one mesh primitive (a face rig of 52 ARKit shapes fits four times over).</summary>
    public const int MaxMorphTargetsPerPrimitive = 256;

    /// <summary>
    /// Most vertices transformed (and skinned) per frame, after instancing: a mesh's vertices count once per node that
    /// draws it, whether or not its triangles use them.
    /// </summary>
    public const long MaxVerticesPerFrame = 30_000_000;

    /// <summary>Most morph displacements applied per frame: vertices times morph targets, once per node that draws the mesh.</summary>
    public const long MaxMorphDisplacementsPerFrame = 100_000_000;
}
