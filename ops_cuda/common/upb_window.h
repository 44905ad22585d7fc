// The K×K-window arithmetic shared by CARAFE and SAPA: a row helper for the vectorised CPU
// paths and the two per-element window sums the element kernels (CPU and CUDA) are built from.
//
// A low-resolution row (length w) is nearest-expanded by s and zero-padded by r*s = (K/2)*s on
// both sides, so that tap column j of high-resolution column q reads
//     dst[q + j*s]  ==  row[q/s + j - r]   (0 outside the row),
// the value the per-element header functions read. Every tap then becomes one contiguous
// multiply-add over an output row. `Dims` is any struct with w, W (= s*w), K and s.
#pragma once

#include "upb_common.h"
#include "upb_convert.h"

namespace upb {

template <typename Dims>
UPB_HOST_DEVICE inline int64_t expanded_len(const Dims& d) {
  return d.W + 2 * static_cast<int64_t>(d.K / 2) * d.s;
}

// The body of expand_row for a compile-time scale S (the common 1..4): the repeat has constant
// trip count, so the compiler turns it into vector shuffles instead of S scalar stores per value.
template <int S, typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void expand_body(const scalar_t* __restrict__ row, int64_t w,
                                        acc_t* __restrict__ body) {
  for (int64_t x = 0; x < w; ++x) {
    const acc_t v = load<acc_t>(row[x]);
    for (int b = 0; b < S; ++b) body[x * S + b] = v;
  }
}

template <typename scalar_t, typename acc_t, typename Dims>
UPB_HOST_DEVICE inline void expand_row(const scalar_t* __restrict__ row, const Dims& d,
                                       acc_t* __restrict__ dst) {
  const int64_t pad = static_cast<int64_t>(d.K / 2) * d.s;
  for (int64_t k = 0; k < pad; ++k) dst[k] = acc_t(0);
  acc_t* body = dst + pad;
  switch (d.s) {  // no integer division in these hot loops
    case 1: expand_body<1>(row, d.w, body); break;
    case 2: expand_body<2>(row, d.w, body); break;
    case 3: expand_body<3>(row, d.w, body); break;
    case 4: expand_body<4>(row, d.w, body); break;
    default:
      for (int64_t x = 0; x < d.w; ++x) {
        const acc_t v = load<acc_t>(row[x]);
        for (int b = 0; b < d.s; ++b) body[x * d.s + b] = v;
      }
  }
  for (int64_t k = 0; k < pad; ++k) body[d.W + k] = acc_t(0);
}

// The two per-element window sums of the K×K-window ops (CARAFE, SAPA), with r = K/2.
//
// window_gather: at high-res pixel (p, q), the sum over the in-range taps (i, j) of
//     taps[(i*K + j)*H*W + p*W + q] * plane[(p/s + i - r)*w + (q/s + j - r)]
// (CARAFE's forward: taps = mask, plane = feature; SAPA's query gradient: taps = grad_sim,
// plane = key).
template <typename scalar_t, typename acc_t, typename Dims>
UPB_HOST_DEVICE inline acc_t window_gather(const scalar_t* __restrict__ taps,
                                           const scalar_t* __restrict__ plane, const Dims& d,
                                           int64_t p, int64_t q) {
  const int r = d.K / 2;
  const int64_t HW = d.H * d.W, yc = p / d.s, xc = q / d.s, pq = p * d.W + q;
  acc_t acc = acc_t(0);
  for (int i = 0; i < d.K; ++i) {
    const int64_t y = yc + i - r;
    if (y < 0 || y >= d.h) continue;
    for (int j = 0; j < d.K; ++j) {
      const int64_t x = xc + j - r;
      if (x < 0 || x >= d.w) continue;
      acc += load<acc_t>(taps[(i * d.K + j) * HW + pq]) * load<acc_t>(plane[y * d.w + x]);
    }
  }
  return acc;
}

// window_adjoint: the adjoint of window_gather with respect to `plane` at low-res (y, x),
// gathered deterministically from the s*s high-res pixels of every low-res centre whose window
// contains (y, x):
//     sum_{i,j} sum_{a,b<s} taps[(i*K + j)*H*W + idx] * hplane[idx],  idx = (yc*s + a)*W + xc*s + b
// with (yc, xc) = (y - i + r, x - j + r) in range (CARAFE's feature gradient: taps = mask,
// hplane = grad_out; SAPA's key gradient: taps = grad_sim, hplane = query).
template <typename scalar_t, typename acc_t, typename Dims>
UPB_HOST_DEVICE inline acc_t window_adjoint(const scalar_t* __restrict__ taps,
                                            const scalar_t* __restrict__ hplane, const Dims& d,
                                            int64_t y, int64_t x) {
  const int r = d.K / 2;
  const int64_t HW = d.H * d.W;
  acc_t acc = acc_t(0);
  for (int i = 0; i < d.K; ++i) {
    const int64_t yc = y - i + r;  // low-res centre row whose tap i reads row y
    if (yc < 0 || yc >= d.h) continue;
    for (int j = 0; j < d.K; ++j) {
      const int64_t xc = x - j + r;
      if (xc < 0 || xc >= d.w) continue;
      const scalar_t* tap = taps + (i * d.K + j) * HW;
      for (int a = 0; a < d.s; ++a) {
        const int64_t row = (yc * d.s + a) * d.W + xc * d.s;
        for (int b = 0; b < d.s; ++b)
          acc += load<acc_t>(tap[row + b]) * load<acc_t>(hplane[row + b]);
      }
    }
  }
  return acc;
}

}  // namespace upb
