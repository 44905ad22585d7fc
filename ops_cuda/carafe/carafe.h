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
  return window_gather<scalar_t, acc_t>(mblock, xplane, d, p, q);
}

// Gradient of the loss w.r.t. one feature element x[n,c,y,x], gathered (deterministically) from
// the s*s output pixels of every low-res location whose window contains (y, x).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_x_elem(const scalar_t* __restrict__ gplane,
                                         const scalar_t* __restrict__ mblock, const Dims& d,
                                         int64_t y, int64_t x) {
  return window_adjoint<scalar_t, acc_t>(mblock, gplane, d, y, x);
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
