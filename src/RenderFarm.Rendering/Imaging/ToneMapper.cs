using RenderFarm.Core;

namespace RenderFarm.Rendering.Imaging;

/// <summary>Turns scene-linear radiance into display-referred sRGB values in [0, 1].</summary>
public static class ToneMapper
{
    /// <summary>Maps one linear channel value (after exposure) through the curve and the sRGB transfer function.</summary>
    public static float ToDisplay(float linear, ToneMapping curve)
    {
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
