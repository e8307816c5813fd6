// Random streams: one per sample, mirrored exactly by src/RenderFarm.Rendering/PathTracing/RandomStream.cs.

// PCG-style integer hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
uint pcgHash(uint v)
{
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The key of one pixel's samples.
uint pixelKey(uint jobSeed, uint frameNumber, uint pixel)
{
    return pcgHash(pcgHash(pcgHash(jobSeed) ^ frameNumber) ^ pixel);
}

// The stream of one sample; RandomStream.cs mirrors this exactly.
uint streamSeed(uint jobSeed, uint frameNumber, uint pixel, uint sampleIndex)
{
    return pcgHash(pixelKey(jobSeed, frameNumber, pixel) ^ sampleIndex);
}

float nextFloat(inout uint state)
{
    state = pcgHash(state);
    return float(state >> 8u) * (1.0 / 16777216.0);
}

// The key of a ray's stochastic transparency (alpha BLEND), taken from the stream's state without
// advancing it, so scenes without BLEND materials draw the same numbers as before; salt tells the
// rays of one path vertex apart.
uint rayKey(uint state, uint salt)
{
    return pcgHash(state ^ (0x68e31da4u + salt * 0x1b56c4e9u));
}

// Stratified draws (RenderSettings.Sampler = Stratified, FLAG_STRATIFIED): the pixel position, the point on an emitter
// or the environment and the BSDF direction of each path vertex come from Owen-scrambled Sobol (0,2) points (Burley,
// "Practical Hash-based Owen Scrambling", JCGT 2020), the sample index shuffled and the points scrambled per pixel, use
// and vertex. Keyed by (job seed, frame, pixel, use, vertex) and the sample index alone, like the independent stream, so a
// pixel's samples are the same however the work is cut; every power-of-two block of consecutive indices is a (0,k,2)-net.
// The lobe choice and Russian roulette keep drawing from the independent stream. Without the flag every draw comes from
// the independent stream in the order it always had.
const uint DRAW_CAMERA = 0u;
const uint DRAW_EMITTER = 1u;
const uint DRAW_ENVIRONMENT = 2u;
const uint DRAW_BSDF = 3u;

// The pixel's key and the sample's index, set when a sample starts; the vertex, when a path segment starts.
uint g_pixelKey = 0u;
uint g_sampleIndex = 0u;
uint g_vertex = 0u;

// Laine and Karras' hash, a random permutation in which each bit depends only on the bits below it.
uint laineKarrasPermutation(uint x, uint seed)
{
    x += seed;
    x ^= x * 0x6c50b47cu;
    x ^= x * 0xb82f1e52u;
    x ^= x * 0xc7afe638u;
    x ^= x * 0x8d22f6e6u;
    return x;
}

// Owen scrambling of a 32-bit fraction: each digit is flipped by a hash of the digits above it.
uint nestedUniformScramble(uint x, uint seed)
{
    return bitfieldReverse(laineKarrasPermutation(bitfieldReverse(x), seed));
}

// Sobol's second dimension: its generator matrix is Pascal's triangle mod 2, so digit j is the parity of the index bits
// whose positions contain j's bits (Lucas), a superset-XOR transform in five steps instead of a loop over the bits.
uint sobolSecond(uint index)
{
    uint y = index;
    y ^= (y >> 1u) & 0x55555555u;
    y ^= (y >> 2u) & 0x33333333u;
    y ^= (y >> 4u) & 0x0f0f0f0fu;
    y ^= (y >> 8u) & 0x00ff00ffu;
    y ^= (y >> 16u) & 0x0000ffffu;
    return bitfieldReverse(y);
}

// Two uniform numbers in [0, 1) for one use at the current vertex: the next two of the independent stream, or the
// sample's stratified point.
vec2 draw2(inout uint rng, uint use)
{
    if ((u_frame.flags & FLAG_STRATIFIED) == 0u)
    {
        float a = nextFloat(rng);
        float b = nextFloat(rng);
        return vec2(a, b);
    }
    uint seed = pcgHash(g_pixelKey ^ ((use + 4u * g_vertex) * 0x9e3779b9u + 0x7f4a7c15u));
    uint index = nestedUniformScramble(g_sampleIndex, seed);
    uint x = nestedUniformScramble(bitfieldReverse(index), pcgHash(seed ^ 0x1b873593u));
    uint y = nestedUniformScramble(sobolSecond(index), pcgHash(seed ^ 0x68e31da4u));
    return vec2(float(x >> 8u), float(y >> 8u)) * (1.0 / 16777216.0);
}
