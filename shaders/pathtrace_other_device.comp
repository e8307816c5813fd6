#version 450
#extension GL_GOOGLE_include_directive : require
// The path tracer as another conforming device would run it, for measuring honest divergence
// (see pathtrace.glsl); never used to render a farm's frames.
#define RF_OTHER_DEVICE 1
#include "pathtrace.glsl"
