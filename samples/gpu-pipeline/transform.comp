#version 450
// The GPU half of the pipeline: out[i] = lowbias32(in[i]) + i. The CPU consumer recomputes it
// for every element, so a frame that ran before its input was written (an early signal) or
// whose output was read before the GPU finished (an early completion) shows up as wrong data.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer Input { uint data_in[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { uint data_out[]; };
layout(push_constant) uniform Params { uint count; } params;

uint lowbias32(uint x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i >= params.count) return;
  data_out[i] = lowbias32(data_in[i]) + i;
}
