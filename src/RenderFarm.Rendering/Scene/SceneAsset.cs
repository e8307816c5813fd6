using System.Globalization;
using System.Numerics;
using System.Text.Json;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;
using SharpGLTF.Validation;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// A glTF 2.0 scene loaded once and turned into GPU buffers per frame.
/// </summary>
/// <remarks>
/// The file is read by <see cref="SceneImporter"/> (what is drawn and what is skipped is described there), posed
/// per frame by <see cref="AnimationEvaluator"/> and packed for the GPU by <see cref="GpuSceneBuilder"/>.
/// </remarks>
public sealed class SceneAsset
{
    private readonly SceneDescription _scene;
    private readonly (Vector3 Min, Vector3 Max) _bounds;
    private readonly Lazy<SharedMeshGeometry[]> _shared;

    private SceneAsset(SceneDescription scene)
    {
        _scene = scene;
        CameraNames = Array.AsReadOnly(Array.ConvertAll(scene.Cameras, c => c.Name));
        _bounds = GpuSceneBuilder.Bounds(scene, scene.Animation.Evaluate(scene, 0));
        _shared = new Lazy<SharedMeshGeometry[]>(() => SharedMeshGeometry.BuildAll(scene.SharedMeshes));
    }

    /// <summary>The file name without its extension.</summary>
    public string Name => _scene.Name;

    /// <summary>The time of the last key of any animation, in seconds; 0 when nothing is animated.</summary>
    public double AnimationDurationSeconds => _scene.Animation.DurationSeconds;

    /// <summary>Number of triangles drawn each frame, every instance of a shared mesh counted.</summary>
    public int TriangleCount => _scene.TriangleCount;

    /// <summary>Number of meshes stored once and drawn through instances of a two-level BVH (see <see cref="SceneImporter"/>).</summary>
    public int SharedMeshCount => _scene.SharedMeshes.Length;

    /// <summary>
    /// Whether frames flatten the shared meshes to world space too, as if no mesh were shared (one triangle per instance);
    /// false (the default) draws them through instances. For comparisons and benchmarks.
    /// </summary>
    public bool FlattenSharedMeshes { get; set; }

    /// <summary>
    /// What the file holds that this renderer does not draw, one line per item: extensions it lists but that are not
    /// in <see cref="SupportedFeatures.Extensions"/>, points and lines, vertex attributes that are not read, other
    /// scenes. Empty when everything is drawn. (A file that requires an unsupported extension is refused at load.)
    /// </summary>
    public IReadOnlyList<string> Unsupported => _scene.Unsupported;

    /// <summary>Number of KHR_lights_punctual lights in the default scene.</summary>
    public int LightCount => _scene.Lights.Length;

    /// <summary>
    /// Names of the cameras in the default scene's node tree, depth first in document order (the
    /// camera's name, else its node's, else "Camera N"). Empty when the file has none, in which case
    /// camera index 0 is a default camera framing the whole scene.
    /// </summary>
    public IReadOnlyList<string> CameraNames { get; }

    /// <summary>The index in <see cref="CameraNames"/> of the camera called <paramref name="name"/> (the first of that name); 0 for null.</summary>
    /// <param name="name">A camera name as <see cref="CameraNames"/> lists it (ordinal comparison), or null for the first camera.</param>
    /// <returns>The camera index for <see cref="BuildFrame"/>.</returns>
    /// <exception cref="UserInputException">No camera has that name; the message lists the scene's cameras.</exception>
    public int CameraIndex(string? name) => CameraChoice.IndexOf(CameraNames, name, Name);

    /// <summary>
    /// The width over height the camera was made for (glTF <c>aspectRatio</c>), or null when the scene has no camera or
    /// its camera does not say; an image of this aspect shows exactly the camera's view.
    /// </summary>
    public float? CameraAspectRatio(int cameraIndex = 0) =>
        cameraIndex >= 0 && cameraIndex < _scene.Cameras.Length && _scene.Cameras[cameraIndex].AspectRatio is { } aspect && CameraFit.IsUsableAspect(aspect) ? aspect : null;

    /// <summary>Loads a .glb or .gltf file (buffers and images external or embedded as data URIs).</summary>
    /// <param name="path">The file.</param>
    /// <param name="access">
    /// Which other files it may read: by default those it names inside its own folder; uploaded scenes
    /// (coordinator, workers) use <see cref="SceneFileAccess.SelfContained"/>. Nothing outside the scene's
    /// folder is ever opened (<see cref="SceneFileAccess"/>), and every count is held to <see cref="SceneLimits"/>.
    /// </param>
    /// <returns>The scene, with its textures decoded and packed.</returns>
    /// <exception cref="UserInputException">
    /// The file is missing, not glTF, broken, needs an unsupported extension, names a file outside its bundle,
    /// exceeds a budget, or has no triangles. The message names the file by its name only, never a local path.
    /// </exception>
    public static SceneAsset Load(string path, SceneFileAccess access = SceneFileAccess.Folder)
    {
        (ModelRoot model, string displayName) = ReadModel(path, access);
        try
        {
            return new SceneAsset(SceneImporter.Import(model, displayName, Path.GetFileNameWithoutExtension(path)));
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' is not a valid glTF file: {Brief(ex)}", ex);
        }
    }

    /// <summary>
    /// Packs a scene and the files it names into one self-contained binary glTF (.glb), the form a farm
    /// stores: a "glTF Separate" export (.gltf + .bin + textures) becomes one upload. The scene is read under
    /// the same rule and budgets as <see cref="Load"/> with <see cref="SceneFileAccess.Folder"/>.
    /// </summary>
    /// <param name="path">The .gltf or .glb file.</param>
    /// <returns>The .glb bytes.</returns>
    /// <exception cref="UserInputException">As for <see cref="Load"/>.</exception>
    public static byte[] PackAsGlb(string path)
    {
        (ModelRoot model, string displayName) = ReadModel(path, SceneFileAccess.Folder);
        try
        {
            using var stream = new MemoryStream();
            model.WriteGLB(stream);
            return stream.ToArray();
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' could not be packed into a .glb: {Brief(ex)}", ex);
        }
    }

    private static (ModelRoot Model, string DisplayName) ReadModel(string path, SceneFileAccess access)
    {
        ArgumentNullException.ThrowIfNull(path);
        string displayName = Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new UserInputException($"Scene file '{path}' was not found.");
        }

        byte[] bytes;
        try
        {
            var file = new FileInfo(path);
            if (file.Length > SceneLimits.MaxBundleBytes)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' is {file.Length} bytes; the limit is {SceneLimits.MaxBundleBytes}."));
            }

            bytes = GltfPreflight.StripByteOrderMark(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Scene file '{displayName}' could not be read.", ex);
        }

        var bundle = new SceneBundle(path, access);
        bool isBinary = GltfPreflight.Check(displayName, bytes, bundle);
        try
        {
            return (Read(bundle, bytes, isBinary), displayName);
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' is not a valid glTF file: {Brief(ex)}", ex);
        }
    }

    /// <summary>
    /// Poses the scene at <paramref name="timeSeconds"/>, flattens it to world space, builds the BVH
    /// and packs everything for the GPU. Width, height, seed, frame and max bounces are left 0.
    /// Materials, textures and texels are packed once at load and every frame returns the same
    /// arrays; treat them as read-only.
    /// </summary>
    /// <param name="timeSeconds">Animation time; times outside an animation's keys hold its end values.</param>
    /// <param name="imageAspectRatio">Image width divided by height.</param>
    /// <param name="cameraIndex">Index into <see cref="CameraNames"/>; 0 selects the default camera when there are none.</param>
    /// <returns>The frame's buffers.</returns>
    /// <exception cref="UserInputException">The camera index is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The time or aspect ratio is not finite, or the aspect ratio is not positive.</exception>
    public GpuSceneData BuildFrame(double timeSeconds, float imageAspectRatio, int cameraIndex = 0)
    {
        if (!double.IsFinite(timeSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(timeSeconds), timeSeconds, "Time must be finite.");
        }

        if (!(imageAspectRatio > 0) || !float.IsFinite(imageAspectRatio))
        {
            throw new ArgumentOutOfRangeException(nameof(imageAspectRatio), imageAspectRatio, "Aspect ratio must be positive and finite.");
        }

        if (cameraIndex < 0 || cameraIndex >= Math.Max(1, _scene.Cameras.Length))
        {
            throw new UserInputException(_scene.Cameras.Length == 0
                ? $"Camera {cameraIndex} does not exist: '{Name}' has no cameras, so only the default camera 0 can be used."
                : $"Camera {cameraIndex} does not exist: '{Name}' has {_scene.Cameras.Length} camera(s), numbered 0 to {_scene.Cameras.Length - 1}.");
        }

        return GpuSceneBuilder.Build(
            _scene, _scene.Animation.Evaluate(_scene, (float)timeSeconds), _bounds, imageAspectRatio, cameraIndex, FlattenSharedMeshes ? null : _shared.Value);
    }

    private static ModelRoot Read(SceneBundle bundle, byte[] bytes, bool isBinary)
    {
        // Every external file is read through the bundle's rule; with no URI resolver, the reader never opens a path itself.
        ReadContext context = ReadContext.Create(bundle.Read);

        // TryFix accepts the small spec deviations common exporters produce but still rejects broken data.
        context.Validation = ValidationMode.TryFix;
        using var stream = new MemoryStream(bytes, writable: false);
        return isBinary ? context.ReadBinarySchema2(stream) : context.ReadTextSchema2(stream);
    }

    // Exceptions SharpGLTF raises for malformed content; anything else is a bug and propagates. Its JSON reader
    // answers a value of an unexpected type (a string where an enum belongs, an unknown accessor type) with
    // NotImplementedException, and its tangent repair a NaN with NotFiniteNumberException: those count only
    // when SharpGLTF itself threw them.
    private static bool IsModelError(Exception ex) => ex is ModelException or IOException or JsonException
        or InvalidDataException or ArgumentException or FormatException or InvalidOperationException
        or NotSupportedException or IndexOutOfRangeException or KeyNotFoundException
        || (ex is NotImplementedException or ArithmeticException
            && ex.TargetSite?.DeclaringType?.Namespace?.StartsWith("SharpGLTF", StringComparison.Ordinal) == true);

    private static string Brief(Exception ex) => ex switch
    {
        NotImplementedException => "a value has a type or form the glTF reader cannot interpret.",
        ArithmeticException => "a number is out of range or not finite.",
        _ => Brief(ex.Message),
    };

    private static string Brief(string message)
    {
        // SharpGLTF appends the file's generator ("Model generated by <...>") to its validation messages.
        int generator = message.IndexOf("Model generated by", StringComparison.Ordinal);
        string line = (generator > 0 ? message[..generator] : message).Split('\n', 2)[0].Trim();
        return line.Length <= 200 ? line : string.Concat(line.AsSpan(0, 197), "...");
    }
}
