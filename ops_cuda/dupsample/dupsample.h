// DUpsampling (Tian et al., CVPR 2019): fused linear reconstruction W·f + b and depth-to-space.
//
//   out[n, c, y*r + i, x*r + j] = b[o] + sum_{k < Ct} W[o, k] * f[n, k, y, x],   o = (c*r + i)*r + j
//
// i.e. the channel ordering of a 1x1 convolution to C*r*r channels followed by pixel_shuffle(r):
// row o of W reconstructs class c at sub-pixel (i, j) of the r x r patch. Shared by the CPU and
// CUDA kernels; every backward function is a gather (no atomics, deterministic).
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace dupsample {

struct Dims {
  int64_t N, Ct, C;  // batch, compressed channels (columns of W), output channels
  int64_t h, w;      // low-resolution size
  int64_t r;         // scale factor
  UPB_HOST_DEVICE int64_t H() const { return h * r; }
  UPB_HOST_DEVICE int64_t W() const { return w * r; }
  UPB_HOST_DEVICE int64_t O() const { return C * r * r; }
};

// Row of W (and entry of b) that produces output pixel (c, p, q).
UPB_HOST_DEVICE inline int64_t row_of(const Dims& d, int64_t c, int64_t p, int64_t q) {
  return (c * d.r + p % d.r) * d.r + q % d.r;
}

// One output element out[n, c, p, q]; fn points at features[n] (Ct*h*w values).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t forward_elem(const scalar_t* __restrict__ fn,
                                          const scalar_t* __restrict__ W,
                                          const scalar_t* __restrict__ b, const Dims& d,
                                          int64_t c, int64_t p, int64_t q) {
  const int64_t o = row_of(d, c, p, q), hw = d.h * d.w, loc = (p / d.r) * d.w + q / d.r;
  const scalar_t* wrow = W + o * d.Ct;
  acc_t acc = load<acc_t>(b[o]);
  for (int64_t k = 0; k < d.Ct; ++k)
    acc += load<acc_t>(wrow[k]) * load<acc_t>(fn[k * hw + loc]);
  return acc;
}

// d loss / d features[n, k, y, x]; gn points at grad_out[n] (C*H*W values).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_f_elem(const scalar_t* __restrict__ gn,
                                         const scalar_t* __restrict__ W, const Dims& d, int64_t k,
                                         int64_t y, int64_t x) {
  const int64_t H = d.H(), Wd = d.W();
  acc_t acc = acc_t(0);
  for (int64_t c = 0; c < d.C; ++c) {
    for (int64_t i = 0; i < d.r; ++i) {
      const scalar_t* grow = gn + (c * H + y * d.r + i) * Wd + x * d.r;
      const int64_t o0 = (c * d.r + i) * d.r;
      for (int64_t j = 0; j < d.r; ++j)
        acc += load<acc_t>(W[(o0 + j) * d.Ct + k]) * load<acc_t>(grow[j]);
    }
  }
  return acc;
}

// d loss / d W[o, k] (over the batch and every low-res location).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_w_elem(const scalar_t* __restrict__ g,
                                         const scalar_t* __restrict__ f, const Dims& d, int64_t o,
                                         int64_t k) {
  const int64_t c = o / (d.r * d.r), i = (o / d.r) % d.r, j = o % d.r;
  const int64_t H = d.H(), Wd = d.W(), hw = d.h * d.w;
  acc_t acc = acc_t(0);
  for (int64_t n = 0; n < d.N; ++n) {
    const scalar_t* gplane = g + (n * d.C + c) * H * Wd;
    const scalar_t* fplane = f + (n * d.Ct + k) * hw;
    for (int64_t y = 0; y < d.h; ++y)
      for (int64_t x = 0; x < d.w; ++x)
        acc += load<acc_t>(gplane[(y * d.r + i) * Wd + x * d.r + j]) *
               load<acc_t>(fplane[y * d.w + x]);
  }
  return acc;
}

// d loss / d b[o].
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_b_elem(const scalar_t* __restrict__ g, const Dims& d, int64_t o) {
  const int64_t c = o / (d.r * d.r), i = (o / d.r) % d.r, j = o % d.r;
  const int64_t H = d.H(), Wd = d.W();
  acc_t acc = acc_t(0);
  for (int64_t n = 0; n < d.N; ++n) {
    const scalar_t* gplane = g + (n * d.C + c) * H * Wd;
    for (int64_t y = 0; y < d.h; ++y)
      for (int64_t x = 0; x < d.w; ++x)
        acc += load<acc_t>(gplane[(y * d.r + i) * Wd + x * d.r + j]);
  }
  return acc;
}

}  // namespace dupsample
}  // namespace upb
