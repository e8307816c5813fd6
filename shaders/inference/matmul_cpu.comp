#version 450
#extension GL_GOOGLE_include_directive : require
// matmul for CPU-type Vulkan devices (lavapipe): same parameters, dispatch and sums as matmul.comp, no shared memory
// and no barriers (see matmul_cpu.glsl).
#include "matmul_cpu.glsl"
