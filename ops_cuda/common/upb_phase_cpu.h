// CPU-only phase-split kernels of the K×K-window ops (CARAFE, SAPA); same sums as the per-element
// header functions, faster loop order.
//
// High-res column q = x*S + b (phase b < S) of high-res row yc*S + a reads low-res columns
// x + j - r for taps j < K. Split by phase (a, b), every tap is a multiply-add over low-res
// columns x that reads the low-res row as it is (no nearest expansion): the tap weights / query
// values are packed once per low-res row, deinterleaved by phase (shared by all channels), and one
// vector of low-res columns serves all S*S phases. Per tap a block of NC channels loads NC row
// vectors and S*S weight vectors for NC*S*S multiply-adds, all accumulators in registers; the S
// phase results of a high-res row are interleaved back in registers (S = 2) before one store.
//
// Vectors are GCC/Clang vector extensions of the widest width the target has (64 bytes with
// AVX-512), so the compiler emits the FMA/permute instructions directly; other compilers and
// scales S > 4 use the row kernels of upb_window_cpu.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "upb_window_cpu.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__aarch64__))
#define UPB_PHASE_KERNELS 1
#if defined(__AVX__)
#include <immintrin.h>
#endif
#else
#define UPB_PHASE_KERNELS 0
#endif

namespace upb {
namespace phase {

// The phase kernels are compiled for scales 1..kMaxScale.
constexpr int64_t kMaxScale = 4;

inline bool supported(int64_t s) { return UPB_PHASE_KERNELS && s >= 1 && s <= kMaxScale; }

// Outputs at least this large are written with streaming (non-temporal) stores: they cannot stay
// in cache for the next op anyway, and a normal store first reads every line it writes.
constexpr int64_t kStreamBytes = int64_t(8) << 20;

#if UPB_PHASE_KERNELS

#if defined(__AVX512F__)
constexpr int kVecBytes = 64, kVecRegs = 32;
#elif defined(__AVX__)
constexpr int kVecBytes = 32, kVecRegs = 16;
#else
constexpr int kVecBytes = 16, kVecRegs = 16;
#endif
// Accumulator vectors held in registers by one block (the rest: row, weight and index vectors).
constexpr int kAccRegs = kVecRegs / 2;

template <typename T>
struct Vec {
  typedef T type __attribute__((vector_size(kVecBytes)));
  static constexpr int64_t lanes = kVecBytes / sizeof(T);
};
template <typename T>
using vec_t = typename Vec<T>::type;

template <typename T>
inline vec_t<T> vload(const T* p) {
  vec_t<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Store of one vector; streaming where asked, the target has it and p is aligned.
template <typename T>
inline void vstore(T* p, vec_t<T> v, bool stream) {
#if defined(__AVX512F__)
  if (stream && (reinterpret_cast<uintptr_t>(p) & 63) == 0) {
    if constexpr (sizeof(T) == 4) _mm512_stream_ps(reinterpret_cast<float*>(p), (__m512)v);
    else _mm512_stream_pd(reinterpret_cast<double*>(p), (__m512d)v);
    return;
  }
#elif defined(__AVX__)
  if (stream && (reinterpret_cast<uintptr_t>(p) & 31) == 0) {
    if constexpr (sizeof(T) == 4) _mm256_stream_ps(reinterpret_cast<float*>(p), (__m256)v);
    else _mm256_stream_pd(reinterpret_cast<double*>(p), (__m256d)v);
    return;
  }
#endif
  (void)stream;
  std::memcpy(p, &v, sizeof(v));
}

// Orders this thread's streaming stores before anything that follows (end of a parallel chunk).
inline void stream_fence() {
#if defined(__AVX__)
  _mm_sfence();
#endif
}

// The S phase vectors ph[0..S) of lanes low-res columns, interleaved into S*lanes consecutive
// high-res values: dst[u*S + b] = ph[b][u], for the first n (<= lanes) columns.
template <int S, typename T>
inline void store_phases(const vec_t<T>* ph, int64_t n, bool stream, T* dst) {
  constexpr int64_t L = Vec<T>::lanes;
  if constexpr (S == 1) {
    if (n == L) {
      vstore<T>(dst, ph[0], stream);
      return;
    }
  } else if constexpr (S == 2) {
    using idx_t = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
    typedef idx_t mask_t __attribute__((vector_size(kVecBytes)));
    mask_t lo_m, hi_m;
    for (int64_t u = 0; u < L; ++u) {
      lo_m[u] = static_cast<idx_t>((u % 2) * L + u / 2);
      hi_m[u] = static_cast<idx_t>((u % 2) * L + L / 2 + u / 2);
    }
    const vec_t<T> lo = __builtin_shuffle(ph[0], ph[1], lo_m);
    const vec_t<T> hi = __builtin_shuffle(ph[0], ph[1], hi_m);
    if (n == L) {
      vstore<T>(dst, lo, stream);
      vstore<T>(dst + L, hi, stream);
      return;
    }
    T tmp[2 * L];
    std::memcpy(tmp, &lo, sizeof(lo));
    std::memcpy(tmp + L, &hi, sizeof(hi));
    std::memcpy(dst, tmp, n * 2 * sizeof(T));
    return;
  }
  T tmp[S][L];
  for (int b = 0; b < S; ++b) std::memcpy(tmp[b], &ph[b], sizeof(ph[b]));
  for (int64_t u = 0; u < n; ++u)
    for (int b = 0; b < S; ++b) dst[u * S + b] = tmp[b][u];
}

// Row length of the packed low-res rows: wpad columns (a whole number of vectors) plus r zeros on
// both sides, so that tap j of column block x0 reads row + x0 + j.
inline int64_t padded_cols(int64_t w, int64_t lanes) { return (w + lanes - 1) / lanes * lanes; }

// dst[r + x] = src[x] for x < w, zero elsewhere in [0, wpad + 2r).
template <typename scalar_t, typename T>
inline void pack_lowres_row(const scalar_t* src, int64_t w, int64_t wpad, int64_t r, T* dst) {
  std::fill(dst, dst + r, T(0));
  for (int64_t x = 0; x < w; ++x) dst[r + x] = static_cast<T>(src[x]);
  std::fill(dst + r + w, dst + wpad + 2 * r, T(0));
}

// Weights of one low-res row yc deinterleaved by phase: dst[((a*S + b)*KK + tap)*wpad + x] =
// block[tap*HW + (yc*S + a)*W + x*S + b], zero where tap column x + j - r is outside [0, w) or
// x >= w (block: KK planes HW apart, W = S*w).
template <int S, typename scalar_t, typename T>
inline void pack_phase_weights(const scalar_t* block, int64_t HW, int64_t w, int64_t K,
                               int64_t yc, int64_t wpad, T* dst) {
  const int64_t KK = K * K, W = S * w, r = K / 2;
  for (int64_t a = 0; a < S; ++a)
    for (int64_t tap = 0; tap < KK; ++tap) {
      const int64_t j = tap % K;
      const int64_t lo = std::min<int64_t>(w, std::max<int64_t>(0, r - j));
      const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(w, w + r - j));
      const scalar_t* src = block + tap * HW + (yc * S + a) * W;
      for (int64_t b = 0; b < S; ++b) {
        T* d = dst + ((a * S + b) * KK + tap) * wpad;
        std::fill(d, d + lo, T(0));
        for (int64_t x = lo; x < hi; ++x) d[x] = static_cast<T>(src[x * S + b]);
        std::fill(d + hi, d + wpad, T(0));
      }
    }
}

// ---- reassembly: out[c][yc*S + a][x*S + b] = sum_{i,j} w[a,b][i*K + j][x] * row_c(yc+i-r)[x+j-r]
// (CARAFE forward with w = masks, SAPA query gradient with w = similarity gradient)

// One column block x0 (n <= lanes columns) of NC channels: xr[c] holds channel c's K packed rows
// (pitch LP), wp the packed phase weights, out[c] channel c's high-res plane at row yc*S.
template <int S, int NC, typename T>
inline void reassemble_block(const T* const* xr, int64_t LP, const T* wp, int64_t KK, int64_t wpad,
                             int64_t K, int64_t ilo, int64_t ihi, int64_t x0, int64_t n, int64_t W,
                             bool stream, T* const* out) {
  using V = vec_t<T>;
  V acc[S * S][NC];
  for (int k = 0; k < S * S; ++k)
    for (int c = 0; c < NC; ++c) acc[k][c] = V{};
  for (int64_t i = ilo; i < ihi; ++i)
    for (int64_t j = 0; j < K; ++j) {
      V xv[NC];
      for (int c = 0; c < NC; ++c) xv[c] = vload(xr[c] + i * LP + x0 + j);
      const T* wt = wp + (i * K + j) * wpad + x0;
      for (int k = 0; k < S * S; ++k) {
        const V wv = vload(wt + k * KK * wpad);
        for (int c = 0; c < NC; ++c) acc[k][c] += wv * xv[c];
      }
    }
  for (int c = 0; c < NC; ++c)
    for (int a = 0; a < S; ++a) {
      V ph[S];
      for (int b = 0; b < S; ++b) ph[b] = acc[a * S + b][c];
      store_phases<S, T>(ph, n, stream, out[c] + a * W + x0 * S);
    }
}

// Scratch of one thread for reassemble_row: packed weights and NC channels' packed rows.
template <typename T>
struct ReassembleScratch {
  std::vector<T> wp, xr;
};

// Channels per block of reassemble_row for scale S.
template <int S>
constexpr int reassemble_channels() {
  return kAccRegs / (S * S) > 1 ? kAccRegs / (S * S) : 1;
}

// All channels of one low-res row yc: channel c's low-res plane at x + c*xstride (h x w), its
// high-res output plane at out + c*ostride (S*h x S*w); weights: KK planes HW apart at wblock.
template <int S, typename scalar_t>
void reassemble_row(const scalar_t* x, int64_t xstride, int64_t C, int64_t h, int64_t w,
                    const scalar_t* wblock, int64_t K, int64_t yc, bool stream, scalar_t* out,
                    int64_t ostride, ReassembleScratch<scalar_t>& sc) {
  using T = scalar_t;
  if (w <= 0 || C <= 0) return;
  constexpr int NC = reassemble_channels<S>();
  constexpr int64_t L = Vec<T>::lanes;
  const int64_t r = K / 2, KK = K * K, W = S * w, HW = S * h * W;
  const int64_t wpad = padded_cols(w, L), LP = wpad + 2 * r;
  sc.wp.resize(S * S * KK * wpad);
  sc.xr.resize(NC * K * LP);
  pack_phase_weights<S>(wblock, HW, w, K, yc, wpad, sc.wp.data());
  const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, h - yc + r);
  const T* xr[NC];
  T* orow[NC];
  auto run = [&](auto nc_tag, int64_t c0) {
    constexpr int nc = decltype(nc_tag)::value;
    for (int c = 0; c < nc; ++c) {
      T* rows = sc.xr.data() + c * K * LP;
      for (int64_t i = ilo; i < ihi; ++i)
        pack_lowres_row(x + (c0 + c) * xstride + (yc + i - r) * w, w, wpad, r, rows + i * LP);
      xr[c] = rows;
      orow[c] = out + (c0 + c) * ostride + yc * S * W;
    }
    for (int64_t x0 = 0; x0 < w; x0 += L)
      reassemble_block<S, nc, T>(xr, LP, sc.wp.data(), KK, wpad, K, ilo, ihi, x0,
                                 std::min(L, w - x0), W, stream, orow);
  };
  int64_t c0 = 0;
  for (; c0 + NC <= C; c0 += NC) run(std::integral_constant<int, NC>{}, c0);
  for (; c0 < C; ++c0) run(std::integral_constant<int, 1>{}, c0);
}

// ---- correlation: out[i*K + j][yc*S + a][x*S + b] = sum_c q_c[yc*S + a][x*S + b] * row_c(yc+i-r)[x+j-r]
// (SAPA similarity with q = query and rows = key; CARAFE mask gradient with q = grad_out and
// rows = features), exactly 0 where the tap lies outside the low-res map.

// dst[(a*S + b)*wpad + x] = plane[(yc*S + a)*W + x*S + b] for x < w, zero up to wpad (W = S*w).
template <int S, typename scalar_t, typename T>
inline void pack_phase_values(const scalar_t* plane, int64_t w, int64_t yc, int64_t wpad, T* dst) {
  const int64_t W = S * w;
  for (int64_t a = 0; a < S; ++a) {
    const scalar_t* src = plane + (yc * S + a) * W;
    for (int64_t b = 0; b < S; ++b) {
      T* d = dst + (a * S + b) * wpad;
      for (int64_t x = 0; x < w; ++x) d[x] = static_cast<T>(src[x * S + b]);
      std::fill(d + w, d + wpad, T(0));
    }
  }
}

// Tap columns per pass of the correlation for scale S: S*S*J accumulators, J row vectors and S*S
// value vectors in registers, at most 5 (K = 5 in one pass).
template <int S>
constexpr int correlate_taps() {
  constexpr int j = (kVecRegs - S * S - 2) / (S * S + 1);
  return j < 1 ? 1 : (j > 5 ? 5 : j);
}

// Taps (i, j0 .. j0+J) of one column block x0 (n <= lanes columns), reduced over C channels:
// channel c's packed phase values at qp + c*qpitch, its packed rows at xr + c*xpitch (pitch LP);
// out[jj] is tap (i, j0 + jj)'s output plane at row yc*S.
template <int S, int J, typename T>
inline void correlate_block(const T* qp, int64_t qpitch, const T* xr, int64_t xpitch, int64_t C,
                            int64_t i, int64_t j0, int64_t LP, int64_t wpad, int64_t x0, int64_t n,
                            int64_t W, T* const* out) {
  using V = vec_t<T>;
  V acc[S * S][J];
  for (int k = 0; k < S * S; ++k)
    for (int jj = 0; jj < J; ++jj) acc[k][jj] = V{};
  const T* xc = xr + i * LP + x0 + j0;
  const T* qc = qp + x0;
  for (int64_t c = 0; c < C; ++c, xc += xpitch, qc += qpitch) {
    V xv[J];
    for (int jj = 0; jj < J; ++jj) xv[jj] = vload(xc + jj);
    for (int k = 0; k < S * S; ++k) {
      const V qv = vload(qc + k * wpad);
      for (int jj = 0; jj < J; ++jj) acc[k][jj] += qv * xv[jj];
    }
  }
  for (int jj = 0; jj < J; ++jj)
    for (int a = 0; a < S; ++a) {
      V ph[S];
      for (int b = 0; b < S; ++b) ph[b] = acc[a * S + b][jj];
      store_phases<S, T>(ph, n, false, out[jj] + a * W + x0 * S);
    }
}

// Scratch of one thread for correlate_row: every channel's packed phase values and rows.
template <typename T>
struct CorrelateScratch {
  std::vector<T> qp, xr;
};

// All K*K tap planes of one low-res row yc: channel c's high-res plane at q + c*qstride
// (S*h x S*w), its low-res plane at x + c*xstride (h x w); tap t's output plane at
// out + t*ostride. Taps outside the map are exactly 0.
template <int S, typename scalar_t>
void correlate_row(const scalar_t* q, int64_t qstride, const scalar_t* x, int64_t xstride,
                   int64_t C, int64_t h, int64_t w, int64_t K, int64_t yc, scalar_t* out,
                   int64_t ostride, CorrelateScratch<scalar_t>& sc) {
  using T = scalar_t;
  if (w <= 0) return;
  constexpr int64_t L = Vec<T>::lanes;
  constexpr int JM = correlate_taps<S>();
  const int64_t r = K / 2, W = S * w, wpad = padded_cols(w, L), LP = wpad + 2 * r;
  const int64_t qpitch = S * S * wpad, xpitch = K * LP;
  const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, h - yc + r);
  sc.qp.resize(C * qpitch);
  sc.xr.resize(C * xpitch);
  for (int64_t c = 0; c < C; ++c) {
    pack_phase_values<S>(q + c * qstride, w, yc, wpad, sc.qp.data() + c * qpitch);
    for (int64_t i = ilo; i < ihi; ++i)
      pack_lowres_row(x + c * xstride + (yc + i - r) * w, w, wpad, r,
                      sc.xr.data() + c * xpitch + i * LP);
  }
  T* orow[JM];
  for (int64_t i = 0; i < K; ++i) {
    if (i < ilo || i >= ihi) {  // the whole tap row lies outside the map
      for (int64_t j = 0; j < K; ++j)
        std::fill(out + (i * K + j) * ostride + yc * S * W,
                  out + (i * K + j) * ostride + (yc + 1) * S * W, T(0));
      continue;
    }
    for (int64_t j0 = 0; j0 < K; j0 += JM) {
      const int64_t nj = std::min<int64_t>(JM, K - j0);
      for (int64_t jj = 0; jj < nj; ++jj) orow[jj] = out + (i * K + j0 + jj) * ostride + yc * S * W;
      for (int64_t x0 = 0; x0 < w; x0 += L) {
        const int64_t n = std::min(L, w - x0);
        auto run = [&](auto j_tag) {
          constexpr int J = decltype(j_tag)::value;
          correlate_block<S, J, T>(sc.qp.data(), qpitch, sc.xr.data(), xpitch, C, i, j0, LP,
                                   wpad, x0, n, W, orow);
        };
        if (nj == JM) {
          run(std::integral_constant<int, JM>{});
          continue;
        }
        switch (nj) {  // the last pass of fewer taps
          case 1: run(std::integral_constant<int, 1>{}); break;
          case 2: run(std::integral_constant<int, (JM > 2 ? 2 : 1)>{}); break;
          case 3: run(std::integral_constant<int, (JM > 3 ? 3 : 1)>{}); break;
          default: run(std::integral_constant<int, (JM > 4 ? 4 : 1)>{}); break;
        }
      }
      // a non-finite value times the zero padding is NaN: taps outside the map are set to 0
      for (int64_t jj = 0; jj < nj; ++jj)
        for (int64_t a = 0; a < S; ++a)
          zero_outside_columns(orow[jj] + a * W, W, j0 + jj, r, S, w);
    }
  }
}

#endif  // UPB_PHASE_KERNELS

}  // namespace phase
}  // namespace upb
