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
#include <vector>

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

// One block of n <= B columns starting at q0 of NC channels at once, channel c:
//   out[c][q] = sum_{ilo <= i < ihi, j < K} w[(i*K + j)*W + q] * xs[c][xoff[i] + j*s + q].
// The NC channels share every weight load (the tap weights do not depend on the channel).
template <int64_t B, int NC, typename scalar_t, typename acc_t>
inline void reassemble_block(const acc_t* w, const acc_t* const* xs, const int64_t* xoff,
                             int64_t ilo, int64_t ihi, int64_t K, int64_t s, int64_t W, int64_t q0,
                             int64_t n, scalar_t* const* out) {
  acc_t acc[NC][B] = {};
  for (int64_t i = ilo; i < ihi; ++i) {
    for (int64_t j = 0; j < K; ++j) {
      const acc_t* __restrict__ wr = w + (i * K + j) * W + q0;
      const int64_t xo = xoff[i] + j * s + q0;
      if (n == B) {
        for (int c = 0; c < NC; ++c) {
          const acc_t* __restrict__ xr = xs[c] + xo;
#pragma omp simd
          for (int64_t u = 0; u < B; ++u) acc[c][u] += wr[u] * xr[u];
        }
      } else {
        for (int c = 0; c < NC; ++c) {
          const acc_t* __restrict__ xr = xs[c] + xo;
          for (int64_t u = 0; u < n; ++u) acc[c][u] += wr[u] * xr[u];
        }
      }
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int64_t u = 0; u < n; ++u) out[c][q0 + u] = static_cast<scalar_t>(acc[c][u]);
}

// Whole output rows of W columns for NC channels: out[c][q] = sum over the in-range tap rows of
// tap weight times the expanded row value (w: K*K packed rows of W; tap row i of channel c's
// window is the expanded row xs[c] + xoff[i], see expand_row).
template <int NC, typename scalar_t, typename acc_t>
inline void reassemble_rows(const acc_t* w, const acc_t* const* xs, const int64_t* xoff,
                            int64_t ilo, int64_t ihi, int64_t K, int64_t s, int64_t W,
                            scalar_t* const* out) {
  constexpr int64_t B = NC > 1 ? kColBlock / 2 : kColBlock;  // NC*B accumulators in registers
  int64_t q0 = 0;
  for (; q0 + B <= W; q0 += B)
    reassemble_block<B, NC>(w, xs, xoff, ilo, ihi, K, s, W, q0, B, out);
  for (; q0 < W; q0 += kColTail)
    reassemble_block<kColTail, NC>(w, xs, xoff, ilo, ihi, K, s, W, q0, std::min(kColTail, W - q0),
                                   out);
}

// One channel (NC = 1) of reassemble_rows.
template <typename scalar_t, typename acc_t>
inline void reassemble_row(const acc_t* w, const acc_t* xs, const int64_t* xoff, int64_t ilo,
                           int64_t ihi, int64_t K, int64_t s, int64_t W, scalar_t* out) {
  reassemble_rows<1>(w, &xs, xoff, ilo, ihi, K, s, W, &out);
}

// ---- window correlation (SAPA similarity, CARAFE mask gradient) -------------------------------

// One block of n <= B columns starting at q0 of NJ tap rows at once, tap t < NJ:
//   out[t][q] = (add ? out[t][q] : 0) + sum_{c < C} a[c*astr + q] * x[c*xstr + t*s + q]:
// the channel reduction of NJ horizontally adjacent taps (x rows s apart), which share every
// load of a; the accumulators stay in registers across the channels.
template <int64_t B, int NJ, typename scalar_t, typename acc_t>
inline void correlate_block(const acc_t* a, int64_t astr, const acc_t* x, int64_t xstr, int64_t s,
                            int64_t C, int64_t q0, int64_t n, bool add, scalar_t* const* out) {
  acc_t acc[NJ][B] = {};
  for (int64_t c = 0; c < C; ++c) {
    const acc_t* __restrict__ ar = a + c * astr + q0;
    const acc_t* __restrict__ xr = x + c * xstr + q0;
    if (n == B) {
      for (int t = 0; t < NJ; ++t) {
#pragma omp simd
        for (int64_t u = 0; u < B; ++u) acc[t][u] += ar[u] * xr[t * s + u];
      }
    } else {
      for (int t = 0; t < NJ; ++t)
        for (int64_t u = 0; u < n; ++u) acc[t][u] += ar[u] * xr[t * s + u];
    }
  }
  for (int t = 0; t < NJ; ++t) {
    scalar_t* o = out[t] + q0;
    if (add) {
      for (int64_t u = 0; u < n; ++u) o[u] = static_cast<scalar_t>(o[u] + acc[t][u]);
    } else {
      for (int64_t u = 0; u < n; ++u) o[u] = static_cast<scalar_t>(acc[t][u]);
    }
  }
}

template <int NJ, typename scalar_t, typename acc_t>
inline void correlate_rows_nj(const acc_t* a, int64_t astr, const acc_t* x, int64_t xstr,
                              int64_t s, int64_t C, int64_t W, bool add, scalar_t* const* out) {
  constexpr int64_t B = NJ > 2 ? kColTail : (NJ > 1 ? kColBlock / 2 : kColBlock);
  int64_t q0 = 0;
  for (; q0 + B <= W; q0 += B) correlate_block<B, NJ>(a, astr, x, xstr, s, C, q0, B, add, out);
  for (; q0 < W; q0 += kColTail)
    correlate_block<kColTail, NJ>(a, astr, x, xstr, s, C, q0, std::min(kColTail, W - q0), add,
                                  out);
}

// Tap rows j = 0 .. K-1 of one window row (see correlate_block; x is tap j = 0's expanded row,
// out[j] tap j's output row), up to 5 taps per pass over the channels.
template <typename scalar_t, typename acc_t>
inline void correlate_rows(const acc_t* a, int64_t astr, const acc_t* x, int64_t xstr, int64_t s,
                           int64_t K, int64_t C, int64_t W, bool add, scalar_t* const* out) {
  for (int64_t j = 0; j < K; j += 5) {
    const acc_t* xj = x + j * s;
    scalar_t* const* oj = out + j;
    switch (std::min<int64_t>(5, K - j)) {
      case 5: correlate_rows_nj<5>(a, astr, xj, xstr, s, C, W, add, oj); break;
      case 4: correlate_rows_nj<4>(a, astr, xj, xstr, s, C, W, add, oj); break;
      case 3: correlate_rows_nj<3>(a, astr, xj, xstr, s, C, W, add, oj); break;
      case 2: correlate_rows_nj<2>(a, astr, xj, xstr, s, C, W, add, oj); break;
      default: correlate_rows_nj<1>(a, astr, xj, xstr, s, C, W, add, oj); break;
    }
  }
}

// Zeroes the columns of tap column j whose low-res column q/s + j - r lies outside [0, w): such
// taps are exactly 0 (not 0 * value, which a non-finite value would turn into NaN).
template <typename scalar_t>
inline void zero_outside_columns(scalar_t* row, int64_t W, int64_t j, int64_t r, int64_t s,
                                 int64_t w) {
  const int64_t lo = std::min<int64_t>(W, std::max<int64_t>(0, (r - j) * s));
  const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(W, (w + r - j) * s));
  for (int64_t q = 0; q < lo; ++q) row[q] = scalar_t(0);
  for (int64_t q = hi; q < W; ++q) row[q] = scalar_t(0);
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
// pairs for NC channels at once: row k has K padded weight rows at w[k] (Wp apart, shared by the
// channels) and channel c's padded value row at v[c*rows + k]; out[c] receives the block.
template <int64_t B, int NC, typename acc_t>
inline void gather_block(const acc_t* const* w, const acc_t* const* v, int64_t rows, int64_t K,
                         int64_t s, int64_t Wp, int64_t P, int64_t u0, int64_t n,
                         acc_t* const* out) {
  acc_t acc[NC][B] = {};
  for (int64_t k = 0; k < rows; ++k) {
    for (int64_t j = 0; j < K; ++j) {
      const acc_t* __restrict__ wr = w[k] + j * Wp + P + u0 - j * s;
      const int64_t vo = P + u0 - j * s;
      if (n == B) {
        for (int c = 0; c < NC; ++c) {
          const acc_t* __restrict__ vr = v[c * rows + k] + vo;
#pragma omp simd
          for (int64_t e = 0; e < B; ++e) acc[c][e] += wr[e] * vr[e];
        }
      } else {
        for (int c = 0; c < NC; ++c) {
          const acc_t* __restrict__ vr = v[c * rows + k] + vo;
          for (int64_t e = 0; e < n; ++e) acc[c][e] += wr[e] * vr[e];
        }
      }
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int64_t e = 0; e < n; ++e) out[c][u0 + e] = acc[c][e];
}

// The gradient rows of NC channels: out[c][x] = sum_b (transposed window sum of channel c at
// u = (x + r)*s + b), x < W/s. hr is scratch of NC*W elements.
template <int NC, typename scalar_t, typename acc_t>
inline void gather_rows(const acc_t* const* w, const acc_t* const* v, int64_t rows, int64_t K,
                        int64_t s, int64_t W, acc_t* hr, scalar_t* const* out) {
  const int64_t P = gather_pad(K, s), Wp = W + 2 * P, base = (K / 2) * s;
  constexpr int64_t B = NC > 1 ? kColBlock / 2 : kColBlock;  // NC*B accumulators in registers
  acc_t* h[NC];
  for (int c = 0; c < NC; ++c) h[c] = hr + c * W - base;  // indexed by u = base + q
  int64_t q0 = 0;
  for (; q0 + B <= W; q0 += B) gather_block<B, NC>(w, v, rows, K, s, Wp, P, base + q0, B, h);
  for (; q0 < W; q0 += kColTail)
    gather_block<kColTail, NC>(w, v, rows, K, s, Wp, P, base + q0, std::min(kColTail, W - q0), h);
  const int64_t wl = W / s;
  for (int c = 0; c < NC; ++c) {
    const acc_t* hc = hr + c * W;
    for (int64_t x = 0; x < wl; ++x) {
      acc_t sum = acc_t(0);
      for (int64_t b = 0; b < s; ++b) sum += hc[x * s + b];
      out[c][x] = static_cast<scalar_t>(sum);
    }
  }
}

// Channels per pass of the transposed-window gradients: they share every packed weight load.
constexpr int kGatherChannels = 4;

// Transposed-window gradient of the channels [c_lo, c_hi) of one low-res row (the CARAFE feature
// gradient, the SAPA key gradient). w: the `rows` packed padded weight-row groups (see
// gather_block); value_row(c, k) returns channel c's high-res value row for (i, a) pair k (W
// elements, unpadded); out_row(c) its gradient row (W/s elements). vs: scratch of
// kGatherChannels*rows*Wp elements whose padding is zero; hr: scratch of kGatherChannels*W.
template <typename scalar_t, typename acc_t, typename ValueRow, typename OutRow>
inline void gather_channels(const acc_t* const* w, int64_t rows, int64_t K, int64_t s, int64_t W,
                            int64_t c_lo, int64_t c_hi, ValueRow value_row, OutRow out_row,
                            acc_t* vs, acc_t* hr) {
  const int64_t P = gather_pad(K, s), Wp = W + 2 * P;
  std::vector<const acc_t*> vrows(kGatherChannels * rows);
  const acc_t** v = vrows.data();
  scalar_t* out[kGatherChannels];
  for (int64_t c0 = c_lo; c0 < c_hi; c0 += kGatherChannels) {
    const int64_t nc = std::min<int64_t>(kGatherChannels, c_hi - c0);
    for (int64_t cc = 0; cc < nc; ++cc) {
      for (int64_t k = 0; k < rows; ++k) {
        acc_t* dst = vs + (cc * rows + k) * Wp;
        const scalar_t* src = value_row(c0 + cc, k);
        for (int64_t q = 0; q < W; ++q) dst[P + q] = static_cast<acc_t>(src[q]);
        v[cc * rows + k] = dst;
      }
      out[cc] = out_row(c0 + cc);
    }
    if (nc == kGatherChannels) {
      gather_rows<kGatherChannels>(w, v, rows, K, s, W, hr, out);
    } else {
      for (int64_t cc = 0; cc < nc; ++cc) gather_rows<1>(w, v + cc * rows, rows, K, s, W, hr, out + cc);
    }
  }
}

// dst[P + q] = src[q] (q < W); the padding of dst is left as it is (zero from allocation).
template <typename scalar_t, typename acc_t>
inline void pack_padded_row(const scalar_t* __restrict__ src, int64_t W, int64_t P,
                            acc_t* __restrict__ dst) {
  for (int64_t q = 0; q < W; ++q) dst[P + q] = static_cast<acc_t>(src[q]);
}

// The weight rows of a transposed-window gather for low-res row y: every high-res row
// p = (y - i + r)*s + a (i in [ilo, ihi), a < s) whose window reads row y has its K tap planes
// (K*K planes of `block`, HW apart, tap (i, j) at (i*K + j)*HW) packed padded into `dst`
// (rows of Wp), and wrows[k] points at row k's K packed taps. Returns the number of rows.
template <typename scalar_t, typename acc_t>
inline int64_t pack_window_rows(const scalar_t* block, int64_t HW, int64_t W, int64_t y,
                                int64_t r, int64_t K, int64_t s, int64_t ilo, int64_t ihi,
                                int64_t P, int64_t Wp, acc_t* dst, const acc_t** wrows) {
  int64_t rows = 0;
  for (int64_t i = ilo; i < ihi; ++i)
    for (int64_t a = 0; a < s; ++a, ++rows) {
      const int64_t p = (y - i + r) * s + a;
      for (int64_t j = 0; j < K; ++j)
        pack_padded_row<scalar_t, acc_t>(block + (i * K + j) * HW + p * W, W, P,
                                         dst + (rows * K + j) * Wp);
      wrows[rows] = dst + rows * K * Wp;
    }
  return rows;
}

}  // namespace upb
