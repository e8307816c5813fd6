#version 450
#extension GL_GOOGLE_include_directive : require
// The farm's path tracer; the source is pathtrace.glsl.
#include "pathtrace.glsl"
