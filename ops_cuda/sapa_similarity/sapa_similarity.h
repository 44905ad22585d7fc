// SAPA similarity math (poppinace/sapa semantics), shared by the CPU and CUDA kernels.
//
//   sim[n, i*K + j, p, q] = sum_c query[n, c, p, q] * key[n, c, p/s + i - r, q/s + j - r]
//
// with r = K/2; taps outside the low-resolution key map have similarity 0 (they still take
// exp(0) mass in the softmax that follows, as the official kernel). query is (N, d, H, W) with
// H = s*h, W = s*w; key is (N, d, h, w). Every function takes pointers already offset to one
// sample n: qbase (d planes of H*W), kbase (d planes of h*w), gbase (K*K planes of H*W).
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"
#include "../common/upb_window.h"

namespace upb {
namespace sapa {

struct Dims {
  int64_t d;      // embedding channels
  int64_t h, w;   // low-resolution key size
  int64_t H, W;   // high-resolution query size (s*h, s*w)
  int K, s;       // kernel size (odd) and scale
};

// Similarity of query pixel (p, q) with tap (i, j) of its low-res window.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t forward_elem(const scalar_t* __restrict__ qbase,
                                          const scalar_t* __restrict__ kbase, const Dims& d,
                                          int i, int j, int64_t p, int64_t q) {
  const int r = d.K / 2;
  const int64_t y = p / d.s + i - r, x = q / d.s + j - r;
  if (y < 0 || y >= d.h || x < 0 || x >= d.w) return acc_t(0);
  const int64_t HW = d.H * d.W, hw = d.h * d.w, qi = p * d.W + q, ki = y * d.w + x;
  acc_t acc = acc_t(0);
  for (int64_t c = 0; c < d.d; ++c)
    acc += load<acc_t>(qbase[c * HW + qi]) * load<acc_t>(kbase[c * hw + ki]);
  return acc;
}

// Gradient w.r.t. query[n, c, p, q]: sum over the in-range taps of grad_sim * key.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_query_elem(const scalar_t* __restrict__ gbase,
                                             const scalar_t* __restrict__ kbase, const Dims& d,
                                             int64_t c, int64_t p, int64_t q) {
  return window_gather<scalar_t, acc_t>(gbase, kbase + c * d.h * d.w, d, p, q);
}

// Gradient w.r.t. key[n, c, y, x], gathered (deterministically) from the s*s query pixels of
// every low-res centre whose window contains (y, x).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_key_elem(const scalar_t* __restrict__ gbase,
                                           const scalar_t* __restrict__ qbase, const Dims& d,
                                           int64_t c, int64_t y, int64_t x) {
  return window_adjoint<scalar_t, acc_t>(gbase, qbase + c * d.H * d.W, d, y, x);
}

}  // namespace sapa
}  // namespace upb
