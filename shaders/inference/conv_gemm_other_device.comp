#version 450
#extension GL_GOOGLE_include_directive : require
// conv_gemm as another conforming device would run it (see device.glsl); never used to deliver outputs.
#define RF_OTHER_DEVICE 1
#include "conv_gemm.glsl"
