using System.IO.Compression;

namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// Blender's default view transform, "Filmic" with the "None" look, as its OCIO configuration defines it
/// (<c>datafiles/colormanagement/config.ocio</c>): linear → lg2 allocation over [−12.473931188, 12.526068812]
/// stops → <c>filmic_desat65cube.spi3d</c> (tetrahedral) → ÷ 0.66 → <c>filmic_to_0-70_1-03.spi1d</c> (linear),
/// whose output is the display-encoded sRGB value. The two LUTs are Blender's own, packed by
/// <c>samples/tools/filmic_lut.py</c> into the embedded <c>FilmicLut.bin</c>.
/// </summary>
internal static class FilmicView
{
    private const int CubeSize = 65;
    private const int CurveLength = 4096;
    private const float Log2Min = -12.473931188f;
    private const float Log2Max = 12.526068812f;
    private const float LogAllocation = 0.66f;

    private static readonly Lazy<(float[] Cube, float[] Curve)> s_luts = new(Load);

    /// <summary>Maps one linear RGB pixel to display-encoded sRGB in [0, 1].</summary>
    public static (float R, float G, float B) ToDisplay(float r, float g, float b)
    {
        (float[] cube, float[] curve) = s_luts.Value;
        (float lr, float lg, float lb) = Cube(cube, Shaper(r), Shaper(g), Shaper(b));
        return (Curve(curve, lr / LogAllocation), Curve(curve, lg / LogAllocation), Curve(curve, lb / LogAllocation));
    }

    // OCIO's lg2 allocation: log2 of at least the smallest normal float (so 0, negatives and NaN land at the
    // bottom of the cube, which clamps its input to [0, 1]), fitted from [min, max] to [0, 1].
    private static float Shaper(float linear)
    {
        float x = linear > 1.17549435e-38f ? linear : 1.17549435e-38f;
        float encoded = (MathF.Log2(x) - Log2Min) / (Log2Max - Log2Min);
        return Math.Clamp(encoded, 0f, 1f) * (CubeSize - 1);
    }

    // Tetrahedral interpolation, OCIO's "best" for a 3-D LUT.
    private static (float R, float G, float B) Cube(float[] cube, float r, float g, float b)
    {
        int r0 = Math.Min((int)r, CubeSize - 2), g0 = Math.Min((int)g, CubeSize - 2), b0 = Math.Min((int)b, CubeSize - 2);
        float fr = r - r0, fg = g - g0, fb = b - b0;
        int c000 = Index(r0, g0, b0), c111 = Index(r0 + 1, g0 + 1, b0 + 1);
        int c100 = Index(r0 + 1, g0, b0), c010 = Index(r0, g0 + 1, b0), c001 = Index(r0, g0, b0 + 1);
        int c110 = Index(r0 + 1, g0 + 1, b0), c101 = Index(r0 + 1, g0, b0 + 1), c011 = Index(r0, g0 + 1, b0 + 1);
        // The tetrahedron holding the point runs c000 → a → m → c111 along the fractions sorted largest first.
        (int a, float wa, int m, float wm, float w0, float w1) = fr > fg
            ? fg > fb ? (c100, fr - fg, c110, fg - fb, 1 - fr, fb)
                : fr > fb ? (c100, fr - fb, c101, fb - fg, 1 - fr, fg)
                : (c001, fb - fr, c101, fr - fg, 1 - fb, fg)
            : fb > fg ? (c001, fb - fg, c011, fg - fr, 1 - fb, fr)
                : fb > fr ? (c010, fg - fb, c011, fb - fr, 1 - fg, fr)
                : (c010, fg - fr, c110, fr - fb, 1 - fg, fb);
        float Channel(int channel) => (w0 * cube[c000 + channel]) + (wa * cube[a + channel]) + (wm * cube[m + channel]) + (w1 * cube[c111 + channel]);
        return (Channel(0), Channel(1), Channel(2));
    }

    private static int Index(int r, int g, int b) => 3 * ((((r * CubeSize) + g) * CubeSize) + b);

    // A 1-D LUT on [0, 1] with linear interpolation; input outside the domain clamps.
    private static float Curve(float[] curve, float x)
    {
        float position = Math.Clamp(float.IsNaN(x) ? 0f : x, 0f, 1f) * (CurveLength - 1);
        int i = Math.Min((int)position, CurveLength - 2);
        float f = position - i;
        return curve[i] + (f * (curve[i + 1] - curve[i]));
    }

    private static (float[] Cube, float[] Curve) Load()
    {
        const int cells = CubeSize * CubeSize * CubeSize;
        using Stream resource = typeof(FilmicView).Assembly.GetManifestResourceStream("RenderFarm.Rendering.Imaging.FilmicLut.bin")
            ?? throw new InvalidOperationException("The Filmic LUT resource is missing from the assembly.");
        using var inflated = new ZLibStream(resource, CompressionMode.Decompress);
        byte[] data = new byte[(cells * 3 * 2) + (CurveLength * 4)];
        inflated.ReadExactly(data);
        var cube = new float[cells * 3];
        for (int channel = 0; channel < 3; channel++)
        {
            int plane = channel * cells * 2;
            ushort previous = 0;
            for (int cell = 0; cell < cells; cell++)
            {
                if (cell % CubeSize == 0)
                {
                    previous = 0;
                }

                ushort delta = BitConverter.ToUInt16(data, plane + (cell * 2));
                previous = unchecked((ushort)(previous + delta));
                cube[(cell * 3) + channel] = previous / 65535f;
            }
        }

        var curve = new float[CurveLength];
        int offset = cells * 3 * 2;
        for (int i = 0; i < CurveLength; i++)
        {
            curve[i] = BitConverter.ToSingle(data, offset + (i * 4));
        }

        return (cube, curve);
    }
}
