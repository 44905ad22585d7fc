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

// fn(std::integral_constant<int, S>{}) for the compiled scale S = s (callers check supported(s)).
template <typename Fn>
inline void with_scale(int64_t s, Fn&& fn) {
  switch (s) {
    case 1: fn(std::integral_constant<int, 1>{}); break;
    case 2: fn(std::integral_constant<int, 2>{}); break;
    case 3: fn(std::integral_constant<int, 3>{}); break;
    default: fn(std::integral_constant<int, 4>{}); break;
  }
}

// Outputs at least this large are written with streaming (non-temporal) stores: they do not fit
// a core's L2 for the next op anyway, and a normal store first reads every line it writes.
constexpr int64_t kStreamBytes = int64_t(2) << 20;

inline bool stream_output(int64_t bytes) { return bytes >= kStreamBytes; }

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
// high-res values: dst[u*S + b] = ph[b][u] (add: dst[u*S + b] += ph[b][u]), for the first
// n (<= lanes) columns.
template <int S, typename T>
inline void store_phases(const vec_t<T>* ph, int64_t n, bool stream, bool add, T* dst) {
  constexpr int64_t L = Vec<T>::lanes;
  if constexpr (S == 1) {
    if (n == L) {
      vstore<T>(dst, add ? ph[0] + vload(dst) : ph[0], stream);
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
    vec_t<T> lo = __builtin_shuffle(ph[0], ph[1], lo_m);
    vec_t<T> hi = __builtin_shuffle(ph[0], ph[1], hi_m);
    if (n == L) {
      if (add) {
        lo += vload(dst);
        hi += vload(dst + L);
      }
      vstore<T>(dst, lo, stream);
      vstore<T>(dst + L, hi, stream);
      return;
    }
    T tmp[2 * L];
    std::memcpy(tmp, &lo, sizeof(lo));
    std::memcpy(tmp + L, &hi, sizeof(hi));
    int64_t e = 0;
    if (2 * n >= L) {  // the first half of the columns fills one whole vector
      vstore<T>(dst, add ? lo + vload(dst) : lo, false);
      e = L;
    }
    for (; e < 2 * n; ++e) dst[e] = add ? dst[e] + tmp[e] : tmp[e];
    return;
  }
  T tmp[S][L];
  for (int b = 0; b < S; ++b) std::memcpy(tmp[b], &ph[b], sizeof(ph[b]));
  for (int64_t u = 0; u < n; ++u)
    for (int b = 0; b < S; ++b) dst[u * S + b] = add ? dst[u * S + b] + tmp[b][u] : tmp[b][u];
}

// Row length of the packed low-res rows: wpad columns (a whole number of vectors) plus r zeros on
// both sides, so that tap j of column block x0 reads row + x0 + j.
inline int64_t padded_cols(int64_t w, int64_t lanes) { return (w + lanes - 1) / lanes * lanes; }

// dst[r + x] = src[x] for x < w, zero elsewhere in [0, wpad + 2r).
template <typename scalar_t, typename T>
inline void pack_lowres_row(const scalar_t* src, int64_t w, int64_t wpad, int64_t r, T* dst) {
  std::fill(dst, dst + r, T(0));
  if constexpr (std::is_same_v<scalar_t, T>) {
    std::memcpy(dst + r, src, w * sizeof(T));
  } else {
    for (int64_t x = 0; x < w; ++x) dst[r + x] = static_cast<T>(src[x]);
  }
  std::fill(dst + r + w, dst + wpad + 2 * r, T(0));
}

// dst[b*bpitch + x] = src[x*S + b] for x in [lo, hi) and b < S (nothing else written); S = 2 by
// vector loads split into even and odd lanes.
template <int S, typename scalar_t, typename T>
inline void deinterleave(const scalar_t* src, int64_t lo, int64_t hi, int64_t bpitch, T* dst) {
  int64_t x = lo;
  if constexpr (S == 2 && std::is_same_v<scalar_t, T>) {
    constexpr int64_t L = Vec<T>::lanes;
    using idx_t = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
    typedef idx_t mask_t __attribute__((vector_size(kVecBytes)));
    mask_t even, odd;
    for (int64_t u = 0; u < L; ++u) {
      even[u] = static_cast<idx_t>(2 * u);
      odd[u] = static_cast<idx_t>(2 * u + 1);
    }
    for (; x + L <= hi; x += L) {
      const vec_t<T> a = vload(src + 2 * x), b = vload(src + 2 * x + L);
      vstore<T>(dst + x, __builtin_shuffle(a, b, even), false);
      vstore<T>(dst + bpitch + x, __builtin_shuffle(a, b, odd), false);
    }
  }
  for (; x < hi; ++x)
    for (int64_t b = 0; b < S; ++b) dst[b * bpitch + x] = static_cast<T>(src[x * S + b]);
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
      T* d = dst + (a * S * KK + tap) * wpad;  // phase b's row at d + b*KK*wpad
      for (int64_t b = 0; b < S; ++b) {
        std::fill(d + b * KK * wpad, d + b * KK * wpad + lo, T(0));
        std::fill(d + b * KK * wpad + hi, d + (b * KK + 1) * wpad, T(0));
      }
      deinterleave<S>(src, lo, hi, KK * wpad, d);
    }
}

// The packed rows (pack_lowres_row) of C low-res planes around the current row yc, a ring of K
// slots per plane: moving from row yc to yc + 1 of the same planes packs one new row, so every
// low-res row is packed once, not K times. Rows outside [0, h) are never packed (their taps are
// skipped or zero).
template <typename T>
struct LowresRing {
  std::vector<T> buf;
  const void* planes = nullptr;
  int64_t yc = -1, C = 0, K = 1, LP = 0;

  template <typename scalar_t>
  void move_to(const scalar_t* x, int64_t xstride, int64_t C_, int64_t h, int64_t w, int64_t K_,
               int64_t yc_, int64_t wpad) {
    const int64_t r = K_ / 2, LP_ = wpad + 2 * r;
    const bool next = planes == x && C == C_ && K == K_ && LP == LP_ && yc_ == yc + 1;
    planes = x;
    C = C_;
    K = K_;
    LP = LP_;
    yc = yc_;
    buf.resize(C * K * LP);
    for (int64_t y = std::max<int64_t>(0, next ? yc_ + r : yc_ - r);
         y <= std::min<int64_t>(h - 1, yc_ + r); ++y)
      for (int64_t c = 0; c < C; ++c) pack_lowres_row(x + c * xstride + y * w, w, wpad, r, row(c, y));
  }
  int64_t slot(int64_t y) const { return ((y % K) + K) % K; }
  // channel c's rows (slot s at + s*LP)
  T* plane(int64_t c) { return buf.data() + c * K * LP; }
  T* row(int64_t c, int64_t y) { return plane(c) + slot(y) * LP; }
  // offset of tap row i's packed row within a plane: slot(yc + i - r) * LP
  int64_t tap_offset(int64_t i) const { return slot(yc + i - K / 2) * LP; }
};

// ---- reassembly: out[c][yc*S + a][x*S + b] = sum_{i,j} w[a,b][i*K + j][x] * row_c(yc+i-r)[x+j-r]
// (CARAFE forward with w = masks, SAPA query gradient with w = similarity gradient)

// One column block x0 (n <= lanes columns) of NC channels: tap row i of channel c is the packed
// row xr[c] + ioff[i], wp the packed phase weights, out[c] channel c's high-res plane at row yc*S.
template <int S, int NC, typename T>
inline void reassemble_block(const T* const* xr, const int64_t* ioff, const T* wp, int64_t KK,
                             int64_t wpad, int64_t K, int64_t ilo, int64_t ihi, int64_t x0,
                             int64_t n, int64_t W, bool stream, T* const* out) {
  using V = vec_t<T>;
  V acc[S * S][NC];
  for (int k = 0; k < S * S; ++k)
    for (int c = 0; c < NC; ++c) acc[k][c] = V{};
  for (int64_t i = ilo; i < ihi; ++i)
    for (int64_t j = 0; j < K; ++j) {
      V xv[NC];
      for (int c = 0; c < NC; ++c) xv[c] = vload(xr[c] + ioff[i] + x0 + j);
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
      store_phases<S, T>(ph, n, stream, false, out[c] + a * W + x0 * S);
    }
}

// Scratch of one thread for reassemble_row: packed weights and every channel's packed rows.
template <typename T>
struct ReassembleScratch {
  std::vector<T> wp;
  LowresRing<T> rows;
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
  const int64_t wpad = padded_cols(w, L);
  sc.wp.resize(S * S * KK * wpad);
  pack_phase_weights<S>(wblock, HW, w, K, yc, wpad, sc.wp.data());
  sc.rows.move_to(x, xstride, C, h, w, K, yc, wpad);
  const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, h - yc + r);
  std::vector<int64_t> ioff(K);
  for (int64_t i = ilo; i < ihi; ++i) ioff[i] = sc.rows.tap_offset(i);
  const T* xr[NC];
  T* orow[NC];
  auto run = [&](auto nc_tag, int64_t c0) {
    constexpr int nc = decltype(nc_tag)::value;
    for (int c = 0; c < nc; ++c) {
      xr[c] = sc.rows.plane(c0 + c);
      orow[c] = out + (c0 + c) * ostride + yc * S * W;
    }
    for (int64_t x0 = 0; x0 < w; x0 += L)
      reassemble_block<S, nc, T>(xr, ioff.data(), sc.wp.data(), KK, wpad, K, ilo, ihi, x0,
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
    T* d = dst + a * S * wpad;
    deinterleave<S>(plane + (yc * S + a) * W, 0, w, wpad, d);
    for (int64_t b = 0; b < S; ++b) std::fill(d + b * wpad + w, d + (b + 1) * wpad, T(0));
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
// channel c's packed phase values at qp + c*qpitch, its tap row i at xr + c*xpitch + ioff;
// out[jj] is tap (i, j0 + jj)'s output plane at row yc*S.
template <int S, int J, typename T>
inline void correlate_block(const T* qp, int64_t qpitch, const T* xr, int64_t xpitch, int64_t C,
                            int64_t ioff, int64_t j0, int64_t K, int64_t wpad, int64_t x0,
                            int64_t n, int64_t W, bool stream, bool add, T* const* out) {
  using V = vec_t<T>;
  V acc[S * S][J];
  for (int k = 0; k < S * S; ++k)
    for (int jj = 0; jj < J; ++jj) acc[k][jj] = V{};
  const T* xc = xr + ioff + x0 + j0;
  const T* qc = qp + x0;
  for (int64_t c = 0; c < C; ++c, xc += xpitch, qc += qpitch) {
    V xv[J];
    for (int jj = 0; jj < J; ++jj) xv[jj] = vload(xc + jj);
    for (int k = 0; k < S * S; ++k) {
      const V qv = vload(qc + k * wpad);
      for (int jj = 0; jj < J; ++jj) acc[k][jj] += qv * xv[jj];
    }
  }
  // taps whose column x + j - r lies outside the map are exactly 0 (a non-finite value times the
  // zero padding would be NaN): masked in registers in the blocks at the map's edges
  const int64_t r = K / 2, w = W / S;
  const bool edge = x0 + j0 < r || x0 + Vec<T>::lanes + j0 + J - 1 - r > w;
  using idx_t = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  typedef idx_t ivec_t __attribute__((vector_size(kVecBytes)));
  for (int jj = 0; jj < J; ++jj) {
    ivec_t in_map = ivec_t{} == ivec_t{};  // all lanes
    if (edge) {
      ivec_t col;
      for (int64_t u = 0; u < Vec<T>::lanes; ++u) col[u] = static_cast<idx_t>(x0 + u + j0 + jj - r);
      in_map = (col >= 0) & (col < static_cast<idx_t>(w));
    }
    for (int a = 0; a < S; ++a) {
      V ph[S];
      for (int b = 0; b < S; ++b) ph[b] = edge ? (in_map ? acc[a * S + b][jj] : V{}) : acc[a * S + b][jj];
      store_phases<S, T>(ph, n, stream, add, out[jj] + a * W + x0 * S);
    }
  }
}

// Channels per pass of correlate_block: their packed values and rows of one column block stay in
// L1 across all tap rows.
constexpr int64_t kCorrelateChunk = 32;

// Scratch of one thread for correlate_row: every channel's packed phase values and rows.
template <typename T>
struct CorrelateScratch {
  std::vector<T> qp;
  LowresRing<T> rows;
};

// All K*K tap planes of one low-res row yc: channel c's high-res plane at q + c*qstride
// (S*h x S*w), its low-res plane at x + c*xstride (h x w); tap t's output plane at
// out + t*ostride. Taps outside the map are exactly 0.
template <int S, typename scalar_t>
void correlate_row(const scalar_t* q, int64_t qstride, const scalar_t* x, int64_t xstride,
                   int64_t C, int64_t h, int64_t w, int64_t K, int64_t yc, bool stream,
                   scalar_t* out, int64_t ostride, CorrelateScratch<scalar_t>& sc) {
  using T = scalar_t;
  if (w <= 0) return;
  constexpr int64_t L = Vec<T>::lanes;
  constexpr int JM = correlate_taps<S>();
  const int64_t r = K / 2, W = S * w, wpad = padded_cols(w, L), LP = wpad + 2 * r;
  const int64_t qpitch = S * S * wpad, xpitch = K * LP;
  const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, h - yc + r);
  sc.qp.resize(C * qpitch);
  for (int64_t c = 0; c < C; ++c)
    pack_phase_values<S>(q + c * qstride, w, yc, wpad, sc.qp.data() + c * qpitch);
  sc.rows.move_to(x, xstride, C, h, w, K, yc, wpad);
  for (int64_t i = 0; i < K; ++i) {
    if (i >= ilo && i < ihi) continue;
    for (int64_t j = 0; j < K; ++j)  // the whole tap row lies outside the map
      std::fill(out + (i * K + j) * ostride + yc * S * W,
                out + (i * K + j) * ostride + (yc + 1) * S * W, T(0));
  }
  // Per column block, the channels in chunks of kCorrelateChunk (their packed values and rows stay
  // in L1 across the tap rows; the partial sums accumulate in the output).
  T* orow[JM];
  for (int64_t x0 = 0; x0 < w; x0 += L) {
    const int64_t n = std::min(L, w - x0);
    for (int64_t cc = 0; cc < std::max<int64_t>(C, 1); cc += kCorrelateChunk) {
      const int64_t cn = std::min(kCorrelateChunk, C - cc);
      const bool add = cc > 0, last = cc + kCorrelateChunk >= C;
      for (int64_t i = ilo; i < ihi; ++i)
        for (int64_t j0 = 0; j0 < K; j0 += JM) {
          const int64_t nj = std::min<int64_t>(JM, K - j0);
          for (int64_t jj = 0; jj < nj; ++jj)
            orow[jj] = out + (i * K + j0 + jj) * ostride + yc * S * W;
          const bool st = stream && last;
          auto run = [&](auto j_tag) {
            constexpr int J = decltype(j_tag)::value;
            correlate_block<S, J, T>(sc.qp.data() + cc * qpitch, qpitch,
                                     sc.rows.plane(0) + cc * xpitch, xpitch, std::max<int64_t>(cn, 0),
                                     sc.rows.tap_offset(i), j0, K, wpad, x0, n, W, st, add, orow);
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
    }
  }
}

// ---- transposed window: out[c][y][x] = sum_{i,j,a,b} w[a,b][i*K + j](y')[x'] * v_c(y')[a,b][x']
// with y' = y - i + r, x' = x - j + r (CARAFE feature gradient with w = masks and v = grad_out,
// SAPA key gradient with w = similarity gradient and v = query): every high-res value that read
// low-res element (y, x) sends it back its weight times the value.
//
// The phase-packed rows of the low-res rows y' a run of output rows needs are kept in a ring of K
// slots: moving to the next output row packs one new row (its weights once for the channel block,
// its values once per channel), so the high-res input is read once per channel block.

// Pitch of a padded phase row: element x' at [r + x'], zeros around, so that output column block
// x0 and tap j read [x0 + 2r - j, ...).
inline int64_t gather_pitch(int64_t w, int64_t lanes, int64_t r) { return padded_cols(w, lanes) + 2 * r; }

// One column block x0 (n <= lanes columns) of output row y for NC channels: wr[i] is tap row i's
// packed weights (S*S*KK padded rows), vr[c][i] channel c's packed values (S*S padded rows), both
// nullptr-free only for valid tap rows [ilo, ihi).
// KT: K at compile time (the tap loop unrolled, every load at a constant offset from one base
// pointer per row), or 0 for any K.
template <int S, int NC, int KT, typename T>
inline void gather_block(const T* const* wr, const T* const* const* vr, int64_t ilo, int64_t ihi,
                         int64_t K_, int64_t P, int64_t x0, int64_t n, T* const* out) {
  using V = vec_t<T>;
  const int64_t K = KT > 0 ? KT : K_, r = K / 2, KK = K * K;
  V acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = V{};
  for (int64_t i = ilo; i < ihi; ++i)
    for (int k = 0; k < S * S; ++k) {
      // tap j reads column block x0 shifted left by j: one base pointer per row, one index
      const T* wb = wr[i] + (k * KK + i * K) * P + x0 + 2 * r;
      const T* vb[NC];
      for (int c = 0; c < NC; ++c) vb[c] = vr[c][i] + k * P + x0 + 2 * r;
#pragma GCC unroll 8
      for (int64_t j = 0; j < K; ++j) {
        const V wv = vload(wb + j * (P - 1));
        for (int c = 0; c < NC; ++c) acc[c] += wv * vload(vb[c] - j);
      }
    }
  for (int c = 0; c < NC; ++c) {
    if (n == Vec<T>::lanes) {
      vstore<T>(out[c] + x0, acc[c], false);
    } else {
      T tmp[Vec<T>::lanes];
      std::memcpy(tmp, &acc[c], sizeof(acc[c]));
      std::memcpy(out[c] + x0, tmp, n * sizeof(T));
    }
  }
}

// Channels per block of gather_block: NC accumulators, NC value vectors and one weight vector.
constexpr int kGatherBlock = (kVecRegs - 2) / 2 < 8 ? (kVecRegs - 2) / 2 : 8;
// Channels per ring (the weights are packed once per ring).
constexpr int64_t kGatherRingChannels = 64;

// The tasks of a transposed-window gradient over `groups` (sample, group) pairs of C channels and
// h rows: (group, ring of kGatherRingChannels channels, run of rows), enough runs for the threads,
// each long enough that priming its ring (r rows) stays small.
struct GatherTasks {
  int64_t C, h, rings, runs, run_len, count;
  GatherTasks(int64_t groups, int64_t C_, int64_t h_, int64_t threads) : C(C_), h(h_) {
    rings = std::max<int64_t>(1, (C + kGatherRingChannels - 1) / kGatherRingChannels);
    const int64_t tasks = groups * rings, want = 4 * threads;
    runs = tasks >= want ? 1 : (want + tasks - 1) / tasks;
    runs = std::max<int64_t>(1, std::min<int64_t>(runs, h / 8));
    run_len = (h + runs - 1) / runs;
    count = groups * rings * runs;
  }
  // task t: group g, channels [c0, c1), rows [y0, y1) (possibly empty)
  void decode(int64_t t, int64_t& g, int64_t& c0, int64_t& c1, int64_t& y0, int64_t& y1) const {
    const int64_t run = t % runs, ring = (t / runs) % rings;
    g = t / (runs * rings);
    c0 = ring * kGatherRingChannels;
    c1 = std::min(C, c0 + kGatherRingChannels);
    y0 = std::min(h, run * run_len);
    y1 = std::min(h, y0 + run_len);
  }
};

// Scratch of one thread for gather_rows: the rings of packed weights and values.
template <typename T>
struct GatherScratch {
  std::vector<T> w, v;
};

// Output rows [y0, y1) of channels [c0, c1): channel c's high-res value plane at v + c*vstride
// (S*h x S*w), its low-res output plane at out + c*ostride (h x w); weights: KK planes HW apart at
// wblock.
template <int S, typename scalar_t>
void gather_rows(const scalar_t* wblock, const scalar_t* v, int64_t vstride, int64_t c0,
                 int64_t c1, int64_t h, int64_t w, int64_t K, int64_t y0, int64_t y1,
                 scalar_t* out, int64_t ostride, GatherScratch<scalar_t>& sc) {
  using T = scalar_t;
  if (w <= 0 || c1 <= c0) return;
  constexpr int64_t L = Vec<T>::lanes;
  const int64_t r = K / 2, KK = K * K, W = S * w, HW = S * h * W, CB = c1 - c0;
  const int64_t wpad = padded_cols(w, L), P = gather_pitch(w, L, r);
  const int64_t wslot = S * S * KK * P, vslot = S * S * P;
  // (+ r: the last packed row's right padding runs r past its slot)
  sc.w.assign(K * wslot + r, T(0));
  sc.v.assign(CB * K * vslot + r, T(0));
  auto slot = [K](int64_t yy) { return ((yy % K) + K) % K; };
  // packs low-res row yy (weights and every channel's values) into its slot
  auto pack = [&](int64_t yy) {
    T* wdst = sc.w.data() + slot(yy) * wslot;
    pack_phase_weights<S>(wblock, HW, w, K, yy, P, wdst + r);
    for (int64_t k = 0; k < S * S * KK; ++k) {  // the padding around each packed row
      std::fill(wdst + k * P, wdst + k * P + r, T(0));
    }
    for (int64_t c = 0; c < CB; ++c)
      pack_phase_values<S>(v + (c0 + c) * vstride, w, yy, P, sc.v.data() + (c * K + slot(yy)) * vslot + r);
  };
  for (int64_t yy = std::max<int64_t>(0, y0 - r); yy < std::min<int64_t>(h, y0 + r); ++yy) pack(yy);
  std::vector<const T*> wr(K), vrows(kGatherBlock * K);
  std::vector<int64_t> sl(K);
  const T* const* vr[kGatherBlock];
  T* orow[kGatherBlock];
  for (int64_t y = y0; y < y1; ++y) {
    if (y + r < h) pack(y + r);
    const int64_t ilo = std::max<int64_t>(0, y + r - h + 1), ihi = std::min<int64_t>(K, y + r + 1);
    for (int64_t i = ilo; i < ihi; ++i) {
      sl[i] = slot(y - i + r);
      wr[i] = sc.w.data() + sl[i] * wslot;
    }
    auto run = [&](auto nc_tag, int64_t cb) {
      constexpr int nc = decltype(nc_tag)::value;
      for (int c = 0; c < nc; ++c) {
        for (int64_t i = ilo; i < ihi; ++i)
          vrows[c * K + i] = sc.v.data() + ((cb + c) * K + sl[i]) * vslot;
        vr[c] = vrows.data() + c * K;
        orow[c] = out + (c0 + cb + c) * ostride + y * w;
      }
      for (int64_t x0 = 0; x0 < w; x0 += L) {
        const int64_t n = std::min(L, w - x0);
        switch (K) {
          case 3: gather_block<S, nc, 3, T>(wr.data(), vr, ilo, ihi, K, P, x0, n, orow); break;
          case 5: gather_block<S, nc, 5, T>(wr.data(), vr, ilo, ihi, K, P, x0, n, orow); break;
          default: gather_block<S, nc, 0, T>(wr.data(), vr, ilo, ihi, K, P, x0, n, orow); break;
        }
      }
    };
    int64_t cb = 0;
    for (; cb + kGatherBlock <= CB; cb += kGatherBlock) run(std::integral_constant<int, kGatherBlock>{}, cb);
    for (; cb < CB; ++cb) run(std::integral_constant<int, 1>{}, cb);
  }
}

#endif  // UPB_PHASE_KERNELS

}  // namespace phase
}  // namespace upb
