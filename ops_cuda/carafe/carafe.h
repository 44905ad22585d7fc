// CARAFE reassembly math (mmcv semantics), shared by the CPU and CUDA kernels.
//
//   out[n,c,p,q] = sum_{i,j<K} mask[n, g(c)*K*K + i*K + j, p, q] * x[n, c, p/s + i - r, q/s + j - r]
//
// with r = K/2, g(c) = c / (C/G), taps outside x skipped (zero padding, no renormalisation).
// Every function takes pointers already offset to one (n, c) feature plane of size h*w and one
// (n, g) mask block of K*K planes of size H*W (H = s*h, W = s*w).
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"
#include "../common/upb_window.h"

namespace upb {
namespace carafe {

struct Dims {
  int64_t h, w;   // low-resolution feature size
  int64_t H, W;   // high-resolution output size (s*h, s*w)
  int K, s;       // kernel size (odd) and scale
};

// One output element out[n,c,p,q].
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t forward_elem(const scalar_t* __restrict__ xplane,
                                          const scalar_t* __restrict__ mblock, const Dims& d,
                                          int64_t p, int64_t q) {
  const int r = d.K / 2;
  const int64_t HW = d.H * d.W;
  const int64_t yc = p / d.s, xc = q / d.s;
  acc_t acc = acc_t(0);
  for (int i = 0; i < d.K; ++i) {
    const int64_t y = yc + i - r;
    if (y < 0 || y >= d.h) continue;
    for (int j = 0; j < d.K; ++j) {
      const int64_t x = xc + j - r;
      if (x < 0 || x >= d.w) continue;
      const acc_t m = load<acc_t>(mblock[(i * d.K + j) * HW + p * d.W + q]);
      acc += m * load<acc_t>(xplane[y * d.w + x]);
    }
  }
  return acc;
}

// Gradient of the loss w.r.t. one feature element x[n,c,y,x], gathered (deterministically) from
// the s*s output pixels of every low-res location whose window contains (y, x).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_x_elem(const scalar_t* __restrict__ gplane,
                                         const scalar_t* __restrict__ mblock, const Dims& d,
                                         int64_t y, int64_t x) {
  const int r = d.K / 2;
  const int64_t HW = d.H * d.W;
  acc_t acc = acc_t(0);
  for (int i = 0; i < d.K; ++i) {
    const int64_t yc = y - i + r;  // low-res centre row whose tap i hits row y
    if (yc < 0 || yc >= d.h) continue;
    for (int j = 0; j < d.K; ++j) {
      const int64_t xc = x - j + r;
      if (xc < 0 || xc >= d.w) continue;
      const scalar_t* mtap = mblock + (i * d.K + j) * HW;
      for (int a = 0; a < d.s; ++a) {
        const int64_t p = yc * d.s + a;
        for (int b = 0; b < d.s; ++b) {
          const int64_t idx = p * d.W + xc * d.s + b;
          acc += load<acc_t>(mtap[idx]) * load<acc_t>(gplane[idx]);
        }
      }
    }
  }
  return acc;
}

// Contribution of one channel plane to the mask gradient of tap (i, j) at output (p, q); the
// mask gradient is the sum of this over the C/G channels of the group.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_mask_term(const scalar_t* __restrict__ gplane,
                                            const scalar_t* __restrict__ xplane, const Dims& d,
                                            int i, int j, int64_t p, int64_t q) {
  const int r = d.K / 2;
  const int64_t y = p / d.s + i - r, x = q / d.s + j - r;
  if (y < 0 || y >= d.h || x < 0 || x >= d.w) return acc_t(0);
  return load<acc_t>(gplane[p * d.W + q]) * load<acc_t>(xplane[y * d.w + x]);
}

}  // namespace carafe
}  // namespace upb
