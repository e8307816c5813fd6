namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// The deterministic random stream of one path sample, bit for bit the one in
/// <c>shaders/pathtrace.comp</c>: seeded by (job seed, frame, pixel, sample index), so any
/// provider re-rendering a pixel or a tile draws exactly the same numbers.
/// </summary>
public struct RandomStream
{
    private uint _state;

    /// <summary>Starts the stream of one sample.</summary>
    public RandomStream(uint jobSeed, uint frame, uint pixel, uint sampleIndex)
    {
        _state = Hash(Hash(Hash(Hash(jobSeed) ^ frame) ^ pixel) ^ sampleIndex);
    }

    /// <summary>The next number, uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat()
    {
        _state = Hash(_state);
        return (_state >> 8) * (1.0f / 16777216.0f);
    }

    /// <summary>The PCG-style integer hash of Jarzynski and Olano (2020).</summary>
    public static uint Hash(uint value)
    {
        uint state = unchecked((value * 747796405u) + 2891336453u);
        uint word = unchecked(((state >> (int)((state >> 28) + 4u)) ^ state) * 277803737u);
        return (word >> 22) ^ word;
    }
}
