namespace RenderFarm.Rendering.Imaging;

/// <summary>A linear-light RGB image in scene radiance units, rows top to bottom.</summary>
public sealed class HdrImage
{
    /// <summary>Creates a black image.</summary>
    public HdrImage(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Pixels = new float[checked(width * height * 3)];
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Interleaved RGB values, <c>3 * (y * Width + x)</c> for pixel (x, y).</summary>
    public float[] Pixels { get; }

    /// <summary>The mean of every channel of every pixel.</summary>
    public double MeanValue()
    {
        double sum = 0;
        foreach (float value in Pixels)
        {
            sum += value;
        }

        return sum / Pixels.Length;
    }
}
