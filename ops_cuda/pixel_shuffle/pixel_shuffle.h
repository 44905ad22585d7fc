// Depth-to-space (PixelShuffle): out[n, c, h*s + i, w*s + j] = x[n, c*s*s + i*s + j, h, w].
// Pure index math, shared by the CPU and CUDA kernels; the backward is the inverse gather.
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace pixel_shuffle {

// Flat index into x (n, C*s*s, h, w) of the input element that output (n, c, oh, ow) copies.
UPB_HOST_DEVICE inline int64_t source_of_output(int64_t n, int64_t c, int64_t oh, int64_t ow,
                                                int64_t C, int64_t h, int64_t w, int s) {
  const int64_t i = oh % s, j = ow % s;
  const int64_t ci = (c * s + i) * s + j;
  return ((n * C * s * s + ci) * h + oh / s) * w + ow / s;
}

// Flat index into out (n, C, s*h, s*w) of the output element that input (n, ci, y, x) lands on.
UPB_HOST_DEVICE inline int64_t output_of_source(int64_t n, int64_t ci, int64_t y, int64_t x,
                                                int64_t C, int64_t h, int64_t w, int s) {
  const int64_t c = ci / (s * s), i = (ci / s) % s, j = ci % s;
  return ((n * C + c) * h * s + y * s + i) * w * s + x * s + j;
}

}  // namespace pixel_shuffle
}  // namespace upb
