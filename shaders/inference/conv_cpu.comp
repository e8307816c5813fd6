#version 450
#extension GL_GOOGLE_include_directive : require
// conv for CPU-type Vulkan devices (lavapipe): same parameters, dispatch and sums as conv.comp (see conv_cpu.glsl).
#include "conv_cpu.glsl"
