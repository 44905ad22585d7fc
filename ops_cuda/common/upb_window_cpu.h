// CPU-only building blocks of the vectorised K×K-window kernels (CARAFE, SAPA); see upb_window.h
// for the expanded-row layout they read.
//
// Layout rules that keep these loops near the machine's limit:
//  * tap planes (K*K planes H*W apart, often a multiple of 4 KiB) are never read in place by a
//    hot loop: pack_tap_rows copies the K*K rows of one output row into one contiguous buffer,
//    otherwise the K*K streams map to one L1 set and evict each other;
//  * accumulators are blocked over kColBlock output columns (several independent vector chains
//    held in registers across all taps), the remainder in kColTail blocks.
#pragma once

#include <algorithm>
#include <cstdint>

#include "upb_common.h"

namespace upb {

constexpr int64_t kColBlock = 64;
constexpr int64_t kColTail = 16;

// dst[tap*W + q] = planes[tap*HW + row*W + q] for tap < taps: one output row of every tap plane.
template <typename scalar_t, typename acc_t>
inline void pack_tap_rows(const scalar_t* planes, int64_t taps, int64_t HW, int64_t W, int64_t row,
                          acc_t* __restrict__ dst) {
  for (int64_t tap = 0; tap < taps; ++tap) {
    const scalar_t* __restrict__ src = planes + tap * HW + row * W;
    acc_t* __restrict__ out = dst + tap * W;
    for (int64_t q = 0; q < W; ++q) out[q] = static_cast<acc_t>(src[q]);
  }
}

// One block of n <= B columns starting at q0 of
//   out[q] = sum_{ilo <= i < ihi, j < K} w[(i*K + j)*W + q] * xs[xoff[i] + j*s + q].
template <int64_t B, typename scalar_t, typename acc_t>
inline void reassemble_block(const acc_t* w, const acc_t* xs, const int64_t* xoff, int64_t ilo,
                             int64_t ihi, int64_t K, int64_t s, int64_t W, int64_t q0, int64_t n,
                             scalar_t* out) {
  acc_t acc[B] = {};
  for (int64_t i = ilo; i < ihi; ++i) {
    for (int64_t j = 0; j < K; ++j) {
      const acc_t* __restrict__ wr = w + (i * K + j) * W + q0;
      const acc_t* __restrict__ xr = xs + xoff[i] + j * s + q0;
      if (n == B) {
#pragma omp simd
        for (int64_t u = 0; u < B; ++u) acc[u] += wr[u] * xr[u];
      } else {
        for (int64_t u = 0; u < n; ++u) acc[u] += wr[u] * xr[u];
      }
    }
  }
  for (int64_t u = 0; u < n; ++u) out[q0 + u] = static_cast<scalar_t>(acc[u]);
}

// A whole output row of W columns: out[q] = sum over the in-range tap rows of tap weight times
// the expanded row value (w: K*K packed rows of W; tap row i of the window is the expanded row
// xs + xoff[i], see expand_row).
template <typename scalar_t, typename acc_t>
inline void reassemble_row(const acc_t* w, const acc_t* xs, const int64_t* xoff, int64_t ilo,
                           int64_t ihi, int64_t K, int64_t s, int64_t W, scalar_t* out) {
  int64_t q0 = 0;
  for (; q0 + kColBlock <= W; q0 += kColBlock)
    reassemble_block<kColBlock>(w, xs, xoff, ilo, ihi, K, s, W, q0, kColBlock, out);
  for (; q0 < W; q0 += kColTail)
    reassemble_block<kColTail>(w, xs, xoff, ilo, ihi, K, s, W, q0, std::min(kColTail, W - q0), out);
}

// ---- transposed window (feature/key gradients) --------------------------------------------------
//
// Gradient of a low-res map whose element (y, x) was read by tap (i, j) of every high-res pixel
// (p, q) with p/s = y - i + r, q/s = x - j + r: it gathers w[tap][p][q] * v[p][q] over those
// pixels. For one low-res row y and one (i, a) pair (high-res row p = (y - i + r)*s + a), with
// the rows stored padded by P = (K-1)*s zeros on both sides (length Wp = W + 2P), the sum over
// j of the row's terms landing in high-res column u (= x*s + b + r*s) is
//   sum_j w[j][P + u - j*s] * v[P + u - j*s],
// so every (i, a, j) is one contiguous multiply-add over u with the accumulator in registers.

// Padding of the gather rows: P = (K-1)*s.
inline int64_t gather_pad(int64_t K, int64_t s) { return (K - 1) * s; }

// One block of n <= B columns u0 .. u0+n-1 of the transposed window sum over the `rows` (i, a)
// pairs: rows k has K padded weight rows at w[k] (Wp apart) and one padded value row v[k].
template <int64_t B, typename acc_t>
inline void gather_block(const acc_t* const* w, const acc_t* const* v, int64_t rows, int64_t K,
                         int64_t s, int64_t Wp, int64_t P, int64_t u0, int64_t n, acc_t* out) {
  acc_t acc[B] = {};
  for (int64_t k = 0; k < rows; ++k) {
    for (int64_t j = 0; j < K; ++j) {
      const acc_t* __restrict__ wr = w[k] + j * Wp + P + u0 - j * s;
      const acc_t* __restrict__ vr = v[k] + P + u0 - j * s;
      if (n == B) {
#pragma omp simd
        for (int64_t e = 0; e < B; ++e) acc[e] += wr[e] * vr[e];
      } else {
        for (int64_t e = 0; e < n; ++e) acc[e] += wr[e] * vr[e];
      }
    }
  }
  for (int64_t e = 0; e < n; ++e) out[e] = acc[e];
}

// The gradient row of one channel: out[x] = sum_b (transposed window sum at u = (x + r)*s + b),
// x < w. hr is scratch of W elements.
template <typename scalar_t, typename acc_t>
inline void gather_row(const acc_t* const* w, const acc_t* const* v, int64_t rows, int64_t K,
                       int64_t s, int64_t W, acc_t* hr, scalar_t* out) {
  const int64_t P = gather_pad(K, s), Wp = W + 2 * P, base = (K / 2) * s;
  int64_t q0 = 0;
  for (; q0 + kColBlock <= W; q0 += kColBlock)
    gather_block<kColBlock>(w, v, rows, K, s, Wp, P, base + q0, kColBlock, hr + q0);
  for (; q0 < W; q0 += kColTail)
    gather_block<kColTail>(w, v, rows, K, s, Wp, P, base + q0, std::min(kColTail, W - q0), hr + q0);
  const int64_t wl = W / s;
  for (int64_t x = 0; x < wl; ++x) {
    acc_t sum = acc_t(0);
    for (int64_t b = 0; b < s; ++b) sum += hr[x * s + b];
    out[x] = static_cast<scalar_t>(sum);
  }
}

// dst[P + q] = src[q] (q < W); the padding of dst is left as it is (zero from allocation).
template <typename scalar_t, typename acc_t>
inline void pack_padded_row(const scalar_t* __restrict__ src, int64_t W, int64_t P,
                            acc_t* __restrict__ dst) {
  for (int64_t q = 0; q < W; ++q) dst[P + q] = static_cast<acc_t>(src[q]);
}

}  // namespace upb
