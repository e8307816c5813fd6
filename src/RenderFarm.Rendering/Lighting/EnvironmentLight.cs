using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Lighting;

/// <summary>
/// An equirectangular environment map lighting the scene, laid out as Blender's Environment Texture node reads it
/// (image centre towards +X, top row straight up), scaled by a strength and turned about the vertical axis as a
/// Mapping node's Z rotation turns it. Directions are sampled in proportion to luminance × sin θ through a 2-D
/// piecewise-constant distribution: a marginal CDF over rows and one conditional CDF per row.
/// </summary>
public sealed class EnvironmentLight
{
    private readonly float[] _marginal;
    private readonly float[] _conditional;

    /// <summary>Builds the light and its sampling tables.</summary>
    /// <exception cref="UserInputException">The strength or rotation is out of range, or the map holds non-finite values.</exception>
    public EnvironmentLight(HdrImage image, float strength = 1f, float rotationDegrees = 0f)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!float.IsFinite(strength) || strength < 0 || strength > 1e6f)
        {
            throw new UserInputException($"Environment strength must be between 0 and 1e6; got {strength}.");
        }

        if (!float.IsFinite(rotationDegrees) || Math.Abs(rotationDegrees) > 36_000)
        {
            throw new UserInputException($"Environment rotation must be between -36000 and 36000 degrees; got {rotationDegrees}.");
        }

        EnvironmentFile.CheckSizeForLight(image.Width, image.Height);
        Image = image;
        Strength = strength;
        RotationDegrees = rotationDegrees;
        int width = image.Width, height = image.Height;
        _conditional = new float[checked(height * (width + 1))];
        _marginal = new float[height + 1];
        var rowSums = new double[height];
        for (int y = 0; y < height; y++)
        {
            double sinTheta = Math.Sin(Math.PI * (y + 0.5) / height);
            double sum = 0;
            Span<float> cdf = _conditional.AsSpan(y * (width + 1), width + 1);
            var running = new double[width + 1];
            for (int x = 0; x < width; x++)
            {
                int i = ((y * width) + x) * 3;
                float r = image.Pixels[i], g = image.Pixels[i + 1], b = image.Pixels[i + 2];
                if (!float.IsFinite(r) || !float.IsFinite(g) || !float.IsFinite(b))
                {
                    throw new UserInputException($"The environment map holds a non-finite value at pixel ({x}, {y}).");
                }

                double luminance = Math.Max(0, (0.2126 * r) + (0.7152 * g) + (0.0722 * b));
                sum += luminance * sinTheta;
                running[x + 1] = sum;
            }

            rowSums[y] = sum;
            for (int x = 0; x <= width; x++)
            {
                // A black row is sampled uniformly, so every row's table stays a valid CDF.
                cdf[x] = sum > 0 ? (float)(running[x] / sum) : (float)x / width;
            }

            cdf[width] = 1f;
        }

        double total = rowSums.Sum();
        double accumulated = 0;
        for (int y = 0; y < height; y++)
        {
            accumulated += rowSums[y];
            _marginal[y + 1] = total > 0 ? (float)(accumulated / total) : (float)(y + 1) / height;
        }

        _marginal[height] = 1f;
        CanSample = total > 0 && strength > 0;
    }

    /// <summary>The map, linear RGB, rows top to bottom.</summary>
    public HdrImage Image { get; }

    /// <summary>Multiplies every texel.</summary>
    public float Strength { get; }

    /// <summary>Rotation about the vertical axis, as the Z rotation of Blender's Mapping node.</summary>
    public float RotationDegrees { get; }

    /// <summary>False when the map is black: nothing to sample, and the shader skips light samples on it.</summary>
    public bool CanSample { get; }

    /// <summary>
    /// The sampling tables as the shader reads them: the marginal CDF over rows (height + 1 values from 0 to 1), then
    /// each row's conditional CDF (width + 1 values from 0 to 1), row after row.
    /// </summary>
    public float[] SamplingTables() => [.. _marginal, .. _conditional];

    /// <summary>
    /// The map's texel (column, row) towards a unit direction in glTF's Y-up world, as continuous coordinates in
    /// [0, width) × [0, height).
    /// </summary>
    public Vector2 TexelOf(Vector3 direction)
    {
        // glTF (x, y, z) is Blender (x, −z, y); the Mapping node turns the lookup vector about Blender's Z.
        float angle = RotationDegrees * MathF.PI / 180f;
        float bx = direction.X, by = -direction.Z, bz = direction.Y;
        float rx = (MathF.Cos(angle) * bx) - (MathF.Sin(angle) * by);
        float ry = (MathF.Sin(angle) * bx) + (MathF.Cos(angle) * by);
        // Straight up or down the azimuth is undefined (GLSL's atan(0, 0) too): both sides take the centre column.
        float u = rx == 0 && ry == 0 ? 0.5f : (-MathF.Atan2(ry, rx) / (2f * MathF.PI)) + 0.5f;
        float v = (MathF.Atan2(bz, MathF.Sqrt((rx * rx) + (ry * ry))) / MathF.PI) + 0.5f;
        return new Vector2(Wrap(u) * Image.Width, Math.Clamp(1f - v, 0f, 1f) * Image.Height);
    }

    /// <summary>The unit direction (glTF world) at continuous texel coordinates; the inverse of <see cref="TexelOf"/>.</summary>
    public Vector3 DirectionOf(Vector2 texel)
    {
        float azimuth = (0.5f - (texel.X / Image.Width)) * 2f * MathF.PI;
        float elevation = (0.5f - (texel.Y / Image.Height)) * MathF.PI;
        float rx = MathF.Cos(elevation) * MathF.Cos(azimuth), ry = MathF.Cos(elevation) * MathF.Sin(azimuth), bz = MathF.Sin(elevation);
        float angle = RotationDegrees * MathF.PI / 180f;
        float bx = (MathF.Cos(angle) * rx) + (MathF.Sin(angle) * ry);
        float by = (-MathF.Sin(angle) * rx) + (MathF.Cos(angle) * ry);
        return new Vector3(bx, bz, -by);
    }

    /// <summary>
    /// Samples texel coordinates from two uniform numbers in [0, 1): a row from the marginal CDF, then a column from
    /// that row's conditional CDF, both continuous within the chosen cell. The shader does the same.
    /// </summary>
    /// <returns>The coordinates and their density over the image's unit square.</returns>
    public (Vector2 Texel, float Pdf) Sample(float u1, float u2)
    {
        int width = Image.Width;
        (int row, float rowOffset) = SampleCdf(_marginal, u2);
        (int column, float columnOffset) = SampleCdf(_conditional.AsSpan(row * (width + 1), width + 1), u1);
        var texel = new Vector2(column + columnOffset, row + rowOffset);
        return (texel, PdfOfTexel(column, row));
    }

    /// <summary>The density over the image's unit square of sampling texel (column, row).</summary>
    public float PdfOfTexel(int column, int row)
    {
        int width = Image.Width, height = Image.Height;
        float rowProbability = _marginal[row + 1] - _marginal[row];
        int start = row * (width + 1);
        float columnProbability = _conditional[start + column + 1] - _conditional[start + column];
        return rowProbability * height * columnProbability * width;
    }

    /// <summary>The density over solid angle of sampling <paramref name="direction"/> (a unit vector, glTF world).</summary>
    public float PdfOfDirection(Vector3 direction)
    {
        Vector2 texel = TexelOf(direction);
        int column = Math.Min((int)texel.X, Image.Width - 1), row = Math.Min((int)texel.Y, Image.Height - 1);
        float sinTheta = MathF.Sqrt(Math.Max(0f, 1f - (direction.Y * direction.Y)));
        return sinTheta > 0 ? PdfOfTexel(column, row) / (2f * MathF.PI * MathF.PI * sinTheta) : 0f;
    }

    // The first cell whose CDF passes u, and where u lies within it.
    private static (int Index, float Offset) SampleCdf(ReadOnlySpan<float> cdf, float u)
    {
        int lo = 0, hi = cdf.Length - 2;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (u < cdf[mid + 1])
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        float span = cdf[lo + 1] - cdf[lo];
        float offset = span > 0 ? Math.Clamp((u - cdf[lo]) / span, 0f, 0.99999994f) : 0.5f;
        return (lo, offset);
    }

    private static float Wrap(float u) => u - MathF.Floor(u);
}
