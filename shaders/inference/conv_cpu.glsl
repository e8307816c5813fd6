// Direct 2-D convolution for CPU-type devices, with conv.glsl's parameters, dispatch and per-output sums (bit for bit
// the same results: the same terms in the same order, taps outside the input skipped). A workgroup still owns 256
// consecutive outputs, as 256 / RF_RUN invocations of RF_RUN outputs each. A CPU driver (llvmpipe) reads memory one lane at a
// time, so what costs is loads per multiply-add: where an invocation's outputs are consecutive pixels of one row and
// the window has unit stride and dilation, each input row of the window is read once for all of them (RF_RUN + kw - 1
// loads and kw weights for RF_RUN x kw multiply-adds, against two loads per multiply-add one output at a time).
#define RF_RUN 8
layout(local_size_x = 256 / RF_RUN) in;
#include "conv_common.glsl"

// One output, as conv.glsl computes it.
float single(uint i)
{
    ConvOutput o = convOutput(i);
    return convWindowSum(o, p.hasBias != 0u ? bias[o.oc] : 0.0);
}

void main()
{
    uint first = ((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u) + gl_LocalInvocationID.x * RF_RUN;
    if (first >= p.n)
    {
        return;
    }

    ConvOutput o = convOutput(first);
    bool unit = p.strideW == 1u && p.dilationW == 1u;
    if (!unit || o.ox + RF_RUN > p.ow || first + RF_RUN > p.n)
    {
        for (uint q = 0u; q < RF_RUN; q++)
        {
            if (first + q < p.n)
            {
                y[first + q] = convActivate(single(first + q));
            }
        }

        return;
    }

    // RF_RUN outputs of one row: the same output channel, batch item and window rows (o is the first's; unit stride).
    float b0 = p.hasBias != 0u ? bias[o.oc] : 0.0;
    float sum[RF_RUN];
    for (uint q = 0u; q < RF_RUN; q++)
    {
        sum[q] = b0;
    }

    for (uint ci = 0u; ci < o.channelsPerGroup; ci++)
    {
        for (uint ky = 0u; ky < p.kh; ky++)
        {
            uint row;
            uint weightRow;
            if (!convWindowRow(o, ci, ky, row, weightRow))
            {
                continue;
            }

            // A shift register over the row: before tap kx, cur[q] holds the input under output q.
            float cur[RF_RUN];
            for (uint q = 1u; q < RF_RUN; q++)
            {
                int ix = o.x0 + int(q) - 1;
                cur[q] = (ix >= 0 && ix < int(p.w)) ? x[row + uint(max(ix, 0))] : 0.0;
            }

            for (uint kx = 0u; kx < p.kw; kx++)
            {
                for (uint q = 0u; q + 1u < RF_RUN; q++)
                {
                    cur[q] = cur[q + 1u];
                }

                int next = o.x0 + int(kx + RF_RUN) - 1;
                cur[RF_RUN - 1u] = (next >= 0 && next < int(p.w)) ? x[row + uint(max(next, 0))] : 0.0;
                float weight = w[weightRow + kx];
                for (uint q = 0u; q < RF_RUN; q++)
                {
                    int ix = o.x0 + int(q + kx);
                    if (ix >= 0 && ix < int(p.w))
                    {
                        sum[q] = sum[q] + cur[q] * weight;
                    }
                }
            }
        }
    }

    for (uint q = 0u; q < RF_RUN; q++)
    {
        y[first + q] = convActivate(sum[q]);
    }
}
