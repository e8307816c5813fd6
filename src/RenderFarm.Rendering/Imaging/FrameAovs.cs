namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// A frame's first-hit arbitrary output variables (AOVs), averaged over a few positions in each pixel: what
/// compositing and the denoiser need besides the colour. Rows top to bottom, like <see cref="HdrImage"/>.
/// </summary>
public sealed class FrameAovs
{
    /// <summary>The camera distance written where a pixel sees no surface, as Blender's Z pass does.</summary>
    public const float BackgroundDepth = 1e10f;

    /// <summary>Creates empty AOVs: black albedo, zero normals, background depth, no coverage.</summary>
    public FrameAovs(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        int pixels = checked(width * height);
        Albedo = new float[checked(pixels * 3)];
        Normal = new float[checked(pixels * 3)];
        Depth = new float[pixels];
        Coverage = new float[pixels];
        Emission = new float[checked(pixels * 3)];
        Array.Fill(Depth, BackgroundDepth);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Base colour of the first surface hit, linear RGB interleaved; black where nothing is hit.</summary>
    public float[] Albedo { get; }

    /// <summary>World-space shading normal of the first hit, facing the camera, XYZ interleaved; zero where nothing is hit.</summary>
    public float[] Normal { get; }

    /// <summary>Distance from the camera to the first hit; <see cref="BackgroundDepth"/> where nothing is hit.</summary>
    public float[] Depth { get; }

    /// <summary>Emitted radiance of the first hit, linear RGB interleaved: the part of the colour that has no noise.</summary>
    public float[] Emission { get; }

    /// <summary>Share of the pixel's positions that hit a surface, 0 to 1.</summary>
    public float[] Coverage { get; }
}
