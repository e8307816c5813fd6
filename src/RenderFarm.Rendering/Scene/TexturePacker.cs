using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using GltfImage = SharpGLTF.Schema2.Image;
using ImageSharpImage = SixLabors.ImageSharp.Image;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Decodes glTF textures to RGBA8 and packs them into one texel array. An image is decoded once per
/// colour space (an image used both as sRGB and linear is stored twice, because the shader decodes
/// by flag); textures that share an image but differ in sampler share its texels. Every image's size is
/// read from its header (PNG IHDR, JPEG SOF) and held to <see cref="SceneLimits.MaxImageSide"/> and, summed
/// over the scene, <see cref="SceneLimits.MaxTexels"/> before it is decoded.
/// </summary>
internal sealed class TexturePacker
{
    /// <summary>Images larger than this on either side are downscaled to fit.</summary>
    public const int MaxTextureSize = 4096;

    private readonly string _displayName;
    private readonly List<GpuTexture> _textures = [];
    private readonly List<uint[]> _chunks = [];
    private readonly Dictionary<(int Image, bool Srgb), GpuTexture> _images = [];
    private readonly Dictionary<(int Image, uint Flags, Vector4 TransformU, Vector4 TransformV), int> _entries = [];
    private long _texelCount;
    private long _decodedTexels;

    public TexturePacker(string displayName)
    {
        _displayName = displayName;
    }

    /// <summary>
    /// Returns the texture index for a material channel's texture with its coordinate set (the texture info's
    /// <c>texCoord</c>, or KHR_texture_transform's override) and transform, or -1 when it has none. Channels that share
    /// an image, sampler, set and transform share an entry; entries that differ only in set or transform share texels.
    /// </summary>
    public int Add(MaterialChannel channel, bool srgb)
    {
        TextureTransform? transform = channel.Texture is null ? null : channel.TextureTransform;
        int set = transform?.TextureCoordinateOverride ?? channel.TextureCoordinate;
        if (set is < 0 || set >= SupportedFeatures.TexCoordSets)
        {
            // Reported by the importer; sampled with TEXCOORD_0 rather than dropped.
            set = 0;
        }

        (Vector4 u, Vector4 v) = transform is null ? (Vector4.UnitX, Vector4.UnitY) : TransformRows(transform.Offset, transform.Rotation, transform.Scale);
        return Add(channel.Texture, channel.TextureSampler, srgb, set == 1 ? GpuTexture.FlagTexCoord1 : 0, u, v);
    }

    /// <summary>
    /// The rows of KHR_texture_transform's matrix T × R × S (translation, then rotation by −θ as the extension
    /// writes it, then scale) acting on (u, v, 1): u′ = cos θ sx u + sin θ sy v + ox, v′ = −sin θ sx u + cos θ sy v + oy.
    /// </summary>
    internal static (Vector4 U, Vector4 V) TransformRows(Vector2 offset, float rotation, Vector2 scale)
    {
        if (!float.IsFinite(offset.X) || !float.IsFinite(offset.Y) || !float.IsFinite(rotation) || !float.IsFinite(scale.X) || !float.IsFinite(scale.Y))
        {
            throw new UserInputException("A KHR_texture_transform holds a value that is not a finite number.");
        }

        float c = MathF.Cos(rotation);
        float s = MathF.Sin(rotation);
        return (new Vector4(c * scale.X, s * scale.Y, offset.X, 0), new Vector4(-s * scale.X, c * scale.Y, offset.Y, 0));
    }

    private int Add(Texture? texture, TextureSampler? sampler, bool srgb, uint setFlag, Vector4 transformU, Vector4 transformV)
    {
        if (texture is null)
        {
            return -1;
        }

        uint flags = WrapBits(sampler?.WrapS ?? TextureWrapMode.REPEAT)
            | (WrapBits(sampler?.WrapT ?? TextureWrapMode.REPEAT) << 2)
            | (sampler?.MagFilter == TextureInterpolationFilter.NEAREST ? GpuTexture.FlagNearest : 0)
            | (srgb ? GpuTexture.FlagSrgb : 0)
            | setFlag;

        GltfImage? image = SelectImage(texture);
        if (image is null)
        {
            return -1;
        }

        if (_entries.TryGetValue((image.LogicalIndex, flags, transformU, transformV), out int existing))
        {
            return existing;
        }

        if (!_images.TryGetValue((image.LogicalIndex, srgb), out GpuTexture stored))
        {
            uint[] texels = DecodeImage(image, out int width, out int height);
            // _texelCount stays below MaxTexels (checked before each decode), so it fits the shader's uint offsets.
            stored = new GpuTexture { Offset = checked((uint)_texelCount), Width = (uint)width, Height = (uint)height };
            _chunks.Add(texels);
            _texelCount = checked(_texelCount + texels.Length);
            _images.Add((image.LogicalIndex, srgb), stored);
        }

        stored.Flags = flags;
        stored.TransformU = transformU;
        stored.TransformV = transformV;
        _textures.Add(stored);
        _entries.Add((image.LogicalIndex, flags, transformU, transformV), _textures.Count - 1);
        return _textures.Count - 1;
    }

    /// <summary>The texture table.</summary>
    public GpuTexture[] Textures => [.. _textures];

    /// <summary>All texels, concatenated in the order of their offsets.</summary>
    public uint[] Texels()
    {
        var all = new uint[checked((int)_texelCount)];
        int offset = 0;
        foreach (uint[] chunk in _chunks)
        {
            chunk.CopyTo(all, offset);
            offset += chunk.Length;
        }

        return all;
    }

    private static uint WrapBits(TextureWrapMode mode) => mode switch
    {
        TextureWrapMode.CLAMP_TO_EDGE => GpuTexture.WrapClamp,
        TextureWrapMode.MIRRORED_REPEAT => GpuTexture.WrapMirror,
        _ => GpuTexture.WrapRepeat,
    };

    // The primary image, or the fallback when the primary is not PNG or JPEG (KTX2, DDS, WebP).
    private static GltfImage? SelectImage(Texture texture)
    {
        GltfImage? primary = texture.PrimaryImage;
        GltfImage? fallback = texture.FallbackImage;
        return primary is null || (fallback is not null && !IsPngOrJpeg(primary)) ? fallback : primary;
    }

    // The image formats of glTF 2.0 itself; others (animated GIF, multi-page TIFF) could decode many frames.
    private static bool IsPngOrJpeg(GltfImage image) => image.Content.IsPng || image.Content.IsJpg;

    // Reads the size from the image's header and charges it to the scene's texel budget before any pixel is decoded.
    private void ChargeTexels(ReadOnlyMemory<byte> bytes, string label)
    {
        IImageInfo? info;
        try
        {
            using var stream = MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(bytes.ToArray(), writable: false);
            info = ImageSharpImage.Identify(stream);
        }
        catch (Exception ex) when (ex is ImageFormatException or NotSupportedException or InvalidDataException)
        {
            throw new UserInputException($"'{_displayName}': {label} could not be decoded ({ex.Message.Split('\n', 2)[0]}).", ex);
        }

        if (info is null)
        {
            throw new UserInputException($"'{_displayName}': {label} is not an image format the renderer reads (PNG or JPEG).");
        }

        if (info.Width < 1 || info.Height < 1 || info.Width > SceneLimits.MaxImageSide || info.Height > SceneLimits.MaxImageSide)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{_displayName}': {label} is {info.Width}x{info.Height}; the limit is {SceneLimits.MaxImageSide} pixels a side."));
        }

        _decodedTexels = checked(_decodedTexels + ((long)info.Width * info.Height));
        if (_decodedTexels > SceneLimits.MaxTexels)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{_displayName}': its textures come to at least {_decodedTexels} texels at {label}; the limit is {SceneLimits.MaxTexels}."));
        }
    }

    private uint[] DecodeImage(GltfImage image, out int width, out int height)
    {
        ReadOnlyMemory<byte> bytes = image.Content.Content;
        string label = string.IsNullOrEmpty(image.Name)
            ? string.Create(CultureInfo.InvariantCulture, $"image {image.LogicalIndex}")
            : $"image '{new string([.. image.Name.Take(80).Select(c => char.IsControl(c) ? '?' : c)])}'";
        if (bytes.IsEmpty)
        {
            throw new UserInputException($"'{_displayName}': {label} has no data.");
        }

        if (!IsPngOrJpeg(image))
        {
            throw new UserInputException($"'{_displayName}': {label} is not PNG or JPEG, the image formats the renderer reads.");
        }

        ChargeTexels(bytes, label);

        try
        {
            using Image<Rgba32> decoded = ImageSharpImage.Load<Rgba32>(bytes.Span);
            if (decoded.Width > MaxTextureSize || decoded.Height > MaxTextureSize)
            {
                float scale = (float)MaxTextureSize / Math.Max(decoded.Width, decoded.Height);
                int w = Math.Clamp((int)MathF.Round(decoded.Width * scale), 1, MaxTextureSize);
                int h = Math.Clamp((int)MathF.Round(decoded.Height * scale), 1, MaxTextureSize);
                decoded.Mutate(context => context.Resize(w, h));
            }

            width = decoded.Width;
            height = decoded.Height;
            var texels = new uint[checked(width * height)];

            // Rgba32 is laid out R, G, B, A, so on little-endian hosts R lands in the low byte.
            decoded.CopyPixelDataTo(MemoryMarshal.Cast<uint, Rgba32>(texels.AsSpan()));
            return texels;
        }
        catch (Exception ex) when (ex is ImageFormatException or NotSupportedException)
        {
            throw new UserInputException($"'{_displayName}': {label} could not be decoded ({ex.Message}).", ex);
        }
    }
}
