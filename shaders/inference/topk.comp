#version 450
// TopK along one axis of a tensor viewed as [outer, axisLength, inner]: one invocation per (outer, inner) line
// selects k elements in order. Ties go to the lower index, as in ONNX Runtime; each pass finds the best element
// that ranks after the previous one, so no scratch memory is needed (k passes over the line).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer V { float values[]; };
layout(std430, set = 0, binding = 2) writeonly buffer I { float indices[]; };
layout(push_constant) uniform Params
{
    uint n;      // outer * inner
    uint axisLength;
    uint inner;
    uint k;
    uint largest;
} p;

// True when element (v, j) ranks before (w, l).
bool before(float v, uint j, float w, uint l)
{
    if (v == w)
    {
        return j < l;
    }

    return p.largest != 0u ? v > w : v < w;
}

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint outer = i / p.inner;
    uint inner = i % p.inner;
    uint base = outer * p.axisLength * p.inner + inner;
    uint outBase = outer * p.k * p.inner + inner;
    bool havePrevious = false;
    float previous = 0.0;
    uint previousIndex = 0u;
    for (uint t = 0u; t < p.k; t++)
    {
        bool found = false;
        float best = 0.0;
        uint bestIndex = 0u;
        for (uint j = 0u; j < p.axisLength; j++)
        {
            float v = x[base + j * p.inner];
            if (havePrevious && !before(previous, previousIndex, v, j))
            {
                continue;
            }

            if (!found || before(v, j, best, bestIndex))
            {
                found = true;
                best = v;
                bestIndex = j;
            }
        }

        values[outBase + t * p.inner] = best;
        indices[outBase + t * p.inner] = float(bestIndex);
        havePrevious = true;
        previous = best;
        previousIndex = bestIndex;
    }
}
