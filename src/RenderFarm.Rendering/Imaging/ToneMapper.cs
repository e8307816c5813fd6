using RenderFarm.Core;

namespace RenderFarm.Rendering.Imaging;

/// <summary>Turns scene-linear radiance into display-referred sRGB values in [0, 1].</summary>
public static class ToneMapper
{
    /// <summary>
    /// Maps one linear RGB pixel (after exposure) to display-encoded sRGB in [0, 1]. Filmic works on the whole
    /// pixel (it desaturates bright colours); the other curves work per channel.
    /// </summary>
    public static (float R, float G, float B) ToDisplay(float r, float g, float b, ToneMapping curve) => curve == ToneMapping.Filmic
        ? FilmicView.ToDisplay(r, g, b)
        : (ToDisplay(r, curve), ToDisplay(g, curve), ToDisplay(b, curve));

    /// <summary>Maps one linear channel value (after exposure) through a per-channel curve and the sRGB transfer function.</summary>
    /// <exception cref="ArgumentException"><paramref name="curve"/> is <see cref="ToneMapping.Filmic"/>, which needs the whole pixel.</exception>
    public static float ToDisplay(float linear, ToneMapping curve)
    {
        if (curve == ToneMapping.Filmic)
        {
            throw new ArgumentException("Filmic maps whole pixels; use the RGB overload.", nameof(curve));
        }

        float mapped = curve switch
        {
            ToneMapping.Aces => Aces(linear),
            _ => linear,
        };
        return LinearToSrgb(Math.Clamp(mapped, 0f, 1f));
    }

    /// <summary>Krzysztof Narkowicz's fit of the ACES filmic reference rendering transform.</summary>
    public static float Aces(float x)
    {
        if (!(x > 0f))
        {
            return 0f;
        }

        const float A = 2.51f, B = 0.03f, C = 2.43f, D = 0.59f, E = 0.14f;
        return Math.Clamp(x * ((A * x) + B) / ((x * ((C * x) + D)) + E), 0f, 1f);
    }

    /// <summary>The sRGB opto-electronic transfer function (IEC 61966-2-1).</summary>
    public static float LinearToSrgb(float linear)
    {
        if (!(linear > 0f))
        {
            return 0f;
        }

        return linear <= 0.0031308f
            ? linear * 12.92f
            : (1.055f * MathF.Pow(linear, 1f / 2.4f)) - 0.055f;
    }

    /// <summary>The inverse of <see cref="LinearToSrgb"/>.</summary>
    public static float SrgbToLinear(float encoded) => encoded <= 0.04045f
        ? encoded / 12.92f
        : MathF.Pow((encoded + 0.055f) / 1.055f, 2.4f);
}
