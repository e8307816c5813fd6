#version 450
#extension GL_GOOGLE_include_directive : require
// conv_gemm for CPU-type Vulkan devices (lavapipe): same parameters, dispatch and sums as conv_gemm.comp, no shared
// memory and no barriers (see conv_gemm_cpu.glsl).
#include "conv_gemm_cpu.glsl"
