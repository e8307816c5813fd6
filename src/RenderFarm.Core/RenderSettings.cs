using System.Text.Json.Serialization;

namespace RenderFarm.Core;

/// <summary>How linear radiance becomes display values.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ToneMapping>))]
public enum ToneMapping
{
    /// <summary>The ACES filmic curve (Narkowicz fit): soft highlights.</summary>
    Aces,

    /// <summary>Plain clamp to [0, 1]: matches Blender's "Standard" view transform.</summary>
    Clamp,

    /// <summary>Blender's default "Filmic" view transform (look "None"), from Blender's own LUTs.</summary>
    Filmic,
}

/// <summary>Which surface model shades glTF materials.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BsdfModel>))]
public enum BsdfModel
{
    /// <summary>Close to Blender's Principled BSDF (Burley diffuse, energy-compensated GGX): looks like Cycles.</summary>
    Principled,

    /// <summary>The glTF specification appendix's BSDF (Lambert × (1 − F) under single-scattering GGX).</summary>
    Gltf,
}

/// <summary>How a pixel's samples draw their random numbers.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SamplerKind>))]
public enum SamplerKind
{
    /// <summary>Every number from the sample's own hash stream: each sample independent of the others.</summary>
    Independent,

    /// <summary>
    /// The pixel position, the light sample and the BSDF direction of each path vertex from Owen-scrambled Sobol (0,2)
    /// points over the pixel's samples: lower noise at equal samples, the same expectation.
    /// </summary>
    Stratified,
}

/// <summary>The file a farm's provider delivers for each frame.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FrameFormat>))]
public enum FrameFormat
{
    /// <summary>A PNG through the view transform, 8- or 16-bit.</summary>
    Png,

    /// <summary>A linear OpenEXR with the AOVs and the denoiser's guides (<c>FarmFrame</c>).</summary>
    Exr,
}

/// <summary>The precision of an EXR frame's channels (depth is always 32-bit float).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExrDepth>))]
public enum ExrDepth
{
    /// <summary>16-bit half floats.</summary>
    Half,

    /// <summary>32-bit floats: the frame exactly as rendered.</summary>
    Float,
}

/// <summary>
/// Everything that decides the pixels of a frame besides the scene. Two renders with equal settings
/// draw the same random streams, so they differ only by floating-point rounding across drivers.
/// </summary>
public sealed record RenderSettings
{
    /// <summary>Most samples per pixel accepted.</summary>
    public const int MaxSamplesPerPixel = 1 << 20;

    /// <summary>Frame size in pixels.</summary>
    public ImageSize Size { get; init; } = new(512, 512);

    /// <summary>Samples per pixel.</summary>
    public int SamplesPerPixel { get; init; } = 64;

    /// <summary>The job seed; with frame, pixel and sample index it fixes every random number.</summary>
    public uint Seed { get; init; }

    /// <summary>Most path segments after the camera ray.</summary>
    public int MaxBounces { get; init; } = 8;

    /// <summary>Frames per second used to turn frame numbers into animation time.</summary>
    public double FramesPerSecond { get; init; } = 24;

    /// <summary>Display transform.</summary>
    public ToneMapping ToneMapping { get; init; } = ToneMapping.Aces;

    /// <summary>Exposure in stops applied before tone mapping.</summary>
    public float ExposureStops { get; init; }

    /// <summary>Radiance of the uniform environment seen by rays that leave the scene.</summary>
    public LinearColor Background { get; init; }

    /// <summary>Write 16-bit PNGs instead of 8-bit.</summary>
    public bool SixteenBit { get; init; }

    /// <summary>Most characters of a camera name.</summary>
    public const int MaxCameraNameLength = 200;

    /// <summary>The name of the scene's camera to render through; null for its first camera (or the default one when it has none).</summary>
    public string? Camera { get; init; }

    /// <summary>The surface model.</summary>
    public BsdfModel Bsdf { get; init; } = BsdfModel.Principled;

    /// <summary>How the samples draw their random numbers; part of what fixes the pixels, so a validator uses the same.</summary>
    public SamplerKind Sampler { get; init; } = SamplerKind.Independent;

    /// <summary>
    /// The environment map that lights the scene in place of <see cref="Background"/>, named by its content hash
    /// (it travels with the job beside the scene); null for the uniform background.
    /// </summary>
    public EnvironmentMapSettings? Environment { get; init; }

    /// <summary>The file delivered per frame: PNG, or linear EXR with AOVs.</summary>
    public FrameFormat Format { get; init; } = FrameFormat.Png;

    /// <summary>With <see cref="FrameFormat.Exr"/>: half or float channels.</summary>
    public ExrDepth ExrDepth { get; init; } = ExrDepth.Half;

    /// <summary>
    /// The client asks for denoised frames. The farm verifies and delivers the noisy EXR with its AOVs; the denoiser
    /// runs after verification, on the client, so it changes no verified pixel.
    /// </summary>
    public bool Denoise { get; init; }

    /// <summary>Animation time of a frame number: frame 1 is at time zero.</summary>
    public double TimeOfFrame(int frame) => ((long)frame - 1) / FramesPerSecond;

    /// <summary>Samples one frame takes: pixels × samples per pixel (at most 2^48 for valid settings, so it fits).</summary>
    /// <exception cref="OverflowException">The settings were not validated and the product does not fit.</exception>
    public long SamplesPerFrame => checked(Size.PixelCount * SamplesPerPixel);

    /// <summary>Checks every value and throws a <see cref="UserInputException"/> naming the first bad one.</summary>
    public void Validate()
    {
        // A default ImageSize (0x0) bypasses its constructor's checks, e.g. from a JSON body that leaves it out.
        if (Size.Width < 1 || Size.Height < 1 || Size.Width > ImageSize.MaxDimension || Size.Height > ImageSize.MaxDimension)
        {
            throw new UserInputException($"Image size {Size} is out of range; each side must be between 1 and {ImageSize.MaxDimension}.");
        }

        if (SamplesPerPixel < 1 || SamplesPerPixel > MaxSamplesPerPixel)
        {
            throw new UserInputException($"Samples per pixel must be between 1 and {MaxSamplesPerPixel}; got {SamplesPerPixel}.");
        }

        if (MaxBounces < 0 || MaxBounces > 64)
        {
            throw new UserInputException($"Max bounces must be between 0 and 64; got {MaxBounces}.");
        }

        if (!(FramesPerSecond > 0 && FramesPerSecond <= 1000))
        {
            throw new UserInputException($"Frames per second must be above 0 and at most 1000; got {FramesPerSecond}.");
        }

        if (!float.IsFinite(ExposureStops) || Math.Abs(ExposureStops) > 32)
        {
            throw new UserInputException($"Exposure must be between -32 and 32 stops; got {ExposureStops}.");
        }

        if (Camera is not null && (Camera.Length is 0 or > MaxCameraNameLength || Camera.Any(char.IsControl)))
        {
            throw new UserInputException($"A camera name must be 1 to {MaxCameraNameLength} characters without control characters.");
        }

        if (!Enum.IsDefined(Bsdf))
        {
            throw new UserInputException($"BSDF must be principled or gltf; got {(int)Bsdf}.");
        }

        if (!Enum.IsDefined(Sampler))
        {
            throw new UserInputException($"Sampler must be independent or stratified; got {(int)Sampler}.");
        }

        if (!Enum.IsDefined(Format) || !Enum.IsDefined(ExrDepth))
        {
            throw new UserInputException($"Format must be png or exr and EXR depth half or float; got {(int)Format} and {(int)ExrDepth}.");
        }

        if (Format != FrameFormat.Exr && (Denoise || ExrDepth != ExrDepth.Half))
        {
            throw new UserInputException("Denoising and an EXR depth need the EXR format: the denoiser reads the linear frame and its AOVs.");
        }

        Environment?.Validate();
    }
}

/// <summary>An equirectangular environment map (Radiance .hdr or OpenEXR) as a job names it.</summary>
/// <param name="Sha256">Lowercase hex SHA-256 of the map file: its id on the farm and in a worker's cache.</param>
/// <param name="Strength">Scales the map's radiance (Blender's Background strength).</param>
/// <param name="RotationDegrees">Turns the map about the vertical axis, as a Mapping node's Z rotation does.</param>
public sealed record EnvironmentMapSettings(string Sha256, float Strength = 1f, float RotationDegrees = 0f)
{
    /// <summary>The largest strength accepted.</summary>
    public const float MaxStrength = 1e6f;

    /// <summary>Checks every value and throws a <see cref="UserInputException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (Sha256 is not { Length: 64 } || !Sha256.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            throw new UserInputException("The environment map's SHA-256 must be 64 lowercase hex digits.");
        }

        if (!float.IsFinite(Strength) || Strength < 0 || Strength > MaxStrength)
        {
            throw new UserInputException($"Environment strength must be between 0 and {MaxStrength:0}; got {Strength}.");
        }

        if (!float.IsFinite(RotationDegrees) || Math.Abs(RotationDegrees) > 360)
        {
            throw new UserInputException($"Environment rotation must be between -360 and 360 degrees; got {RotationDegrees}.");
        }
    }
}
