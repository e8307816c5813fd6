using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using static RenderFarm.Rendering.Scene.VectorMath;

namespace RenderFarm.Rendering.Scene;

/// <summary>Packs the camera of a frame for the path tracer: a scene camera, or a default one framing the bounds.</summary>
internal static class CameraPacker
{
    internal static GpuFrameParams BuildCamera(
        CameraInfo[] cameras, Matrix4x4[] world, (Vector3 Min, Vector3 Max) bounds, float aspect, int cameraIndex)
    {
        if (cameras.Length == 0)
        {
            // Frame the time-0 bounding sphere with a 40° camera on the +Z side looking down -Z.
            Vector3 centre = (bounds.Min + bounds.Max) * 0.5f;
            float radius = Math.Max((bounds.Max - bounds.Min).Length() * 0.5f, 1e-6f);
            float tanHalf = MathF.Tan(SceneImporter.DefaultVerticalFov / 2);
            float limitingHalfAngle = MathF.Atan(tanHalf * Math.Min(1, aspect));
            float distance = radius / MathF.Sin(limitingHalfAngle);
            return new GpuFrameParams
            {
                CameraOrigin = new Vector4(centre + new Vector3(0, 0, distance), 0),
                CameraRight = new Vector4(Vector3.UnitX * tanHalf * aspect, 0),
                CameraUp = new Vector4(Vector3.UnitY * tanHalf, 0),
                CameraForward = new Vector4(-Vector3.UnitZ, 0),
            };
        }

        CameraInfo camera = cameras[cameraIndex];
        Matrix4x4 m = world[camera.Node];

        // Orthonormalise the node's axes so scale or shear in the hierarchy does not distort the view.
        Vector3 forward = SafeNormalize(Vector3.TransformNormal(-Vector3.UnitZ, m));
        Vector3 right = Vector3.TransformNormal(Vector3.UnitX, m);
        right = SafeNormalize(right - (forward * Vector3.Dot(forward, right)));
        Vector3 up = Vector3.TransformNormal(Vector3.UnitY, m);
        up = SafeNormalize(up - (forward * Vector3.Dot(forward, up)) - (right * Vector3.Dot(right, up)));
        var frame = new GpuFrameParams
        {
            CameraOrigin = new Vector4(m.Translation, 0),
            CameraForward = new Vector4(forward, 0),
        };
        if (camera.Orthographic)
        {
            // ymag fixes the half-height; the half-width follows the image so pixels stay square (xmag is ignored).
            frame.Flags = GpuFrameParams.FlagOrthographic;
            frame.CameraRight = new Vector4(right * camera.YMag * aspect, 0);
            frame.CameraUp = new Vector4(up * camera.YMag, 0);
        }
        else
        {
            (float tanHalfX, float tanHalfY) = CameraFit.TanHalfAngles(camera.YFov, camera.AspectRatio, aspect);
            frame.CameraRight = new Vector4(right * tanHalfX, 0);
            frame.CameraUp = new Vector4(up * tanHalfY, 0);
        }

        return frame;
    }
}
