// Direct 2-D convolution (NCHW, OIHW weights) with groups, strides, dilations, padding, optional bias and a fused
// activation. One invocation computes one output element; no im2col buffer.
layout(local_size_x = 256) in;
#include "conv_common.glsl"

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    ConvOutput o = convOutput(i);
#ifdef RF_OTHER_DEVICE
    float sum = 0.0;
#else
    float sum = p.hasBias != 0u ? bias[o.oc] : 0.0;
#endif
    sum = convWindowSum(o, sum);
#ifdef RF_OTHER_DEVICE
    sum += p.hasBias != 0u ? bias[o.oc] : 0.0;
#endif
    y[i] = convActivate(sum);
}
