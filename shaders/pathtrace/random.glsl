// Random streams: one per sample, mirrored exactly by src/RenderFarm.Rendering/PathTracing/RandomStream.cs.

// PCG-style integer hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
uint pcgHash(uint v)
{
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The stream of one sample; RandomStream.cs mirrors this exactly.
uint streamSeed(uint jobSeed, uint frameNumber, uint pixel, uint sampleIndex)
{
    return pcgHash(pcgHash(pcgHash(pcgHash(jobSeed) ^ frameNumber) ^ pixel) ^ sampleIndex);
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
