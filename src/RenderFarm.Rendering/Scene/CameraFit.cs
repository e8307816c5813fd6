namespace RenderFarm.Rendering.Scene;

/// <summary>
/// How a perspective camera fills an image whose aspect differs from the camera's own, as Blender's sensor fit AUTO
/// does: the image's larger dimension keeps the camera's wider field of view. A glTF camera from Blender stores the
/// vertical field of view for the aspect it was exported at (its <c>aspectRatio</c>); rendered at that aspect nothing
/// changes, while a landscape camera rendered square keeps its horizontal view instead of its vertical one.
/// </summary>
public static class CameraFit
{
    // A file's aspectRatio outside these (a 100:1 panorama at the most) is not a camera's but a hostile or broken
    // value, and would blow the field of view up; such a camera keeps its vertical view as glTF defines it.
    private const float MinAspect = 0.01f;
    private const float MaxAspect = 100f;

    /// <summary>Whether <paramref name="aspect"/> is a camera's aspect this fit honours (0.01 to 100).</summary>
    public static bool IsUsableAspect(float aspect) => aspect >= MinAspect && aspect <= MaxAspect;

    /// <summary>The tangents of the half angles, horizontal and vertical, with which the camera fills the image.</summary>
    /// <param name="yFov">The camera's vertical field of view, radians, at <paramref name="cameraAspect"/>.</param>
    /// <param name="cameraAspect">The camera's width over height; null (or outside 0.01 to 100) keeps <paramref name="yFov"/> vertical at every aspect.</param>
    /// <param name="imageAspect">The image's width over height.</param>
    public static (float TanHalfX, float TanHalfY) TanHalfAngles(float yFov, float? cameraAspect, float imageAspect)
    {
        float tanHalfY = MathF.Tan(yFov / 2);
        if (cameraAspect is not { } camera || !IsUsableAspect(camera) || camera == imageAspect)
        {
            return (tanHalfY * imageAspect, tanHalfY);
        }

        // The camera's wider field of view: horizontal for a landscape camera, vertical for a portrait one.
        float tanWide = camera >= 1 ? tanHalfY * camera : tanHalfY;
        if (!float.IsFinite(tanWide) || !(tanWide > 0))
        {
            return (tanHalfY * imageAspect, tanHalfY);
        }

        return imageAspect >= 1 ? (tanWide, tanWide / imageAspect) : (tanWide * imageAspect, tanWide);
    }
}
