// CPU kernels for upbench::offset_bilinear.
//
// Two loop nests compute the same sums (see offset_bilinear.h):
//  * the default path: one task per output row of one offset group computes the row's sampling
//    points once and applies them to every channel of the group;
//  * the elementwise path (cpu_kernel_mode 1, used by the tests): every element comes from
//    sample_at / forward_elem / grad_offset_terms / input_weights, as in the CUDA kernels.
// The input gradient is a data-dependent scatter: it is parallelised over blocks of channel
// planes of one offset group (sharing each row's sampling points), each plane accumulated
// serially in a fixed order, so the result is deterministic without atomics.
#include <algorithm>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "../common/upb_cpu.h"
#include "../common/upb_contract.h"
#include "offset_bilinear.h"

namespace upb {
namespace offset_bilinear {
namespace {

Dims make_dims(const at::Tensor& x, const at::Tensor& off, int64_t sh, int64_t sw, bool align) {
  return Dims{x.size(1), off.size(1) / 2, x.size(2), x.size(3), off.size(2), off.size(3),
              static_cast<int>(sh), static_cast<int>(sw), align};
}

// Channels of offset group m: [c_lo, c_hi).
inline void group_channels(const Dims& d, int64_t m, int64_t& c_lo, int64_t& c_hi) {
  const int64_t per = d.C / d.M;
  c_lo = m * per;
  c_hi = c_lo + per;
}

// The corners and weights of output row p of offset group m (obase = the sample's offsets):
// idx[k*W + q] and wgt[k*W + q] are input_weights' corner k of column q, as int32 flat indices
// into one h x w plane.
template <typename scalar_t, typename acc_t>
inline void row_corners(const scalar_t* obase, const Dims& d, int64_t m, int64_t p,
                        int32_t* __restrict__ idx, acc_t* __restrict__ wgt) {
  for (int64_t q = 0; q < d.W; ++q) {
    const Sample<acc_t> s = sample_at<scalar_t, acc_t>(obase, d, m, p, q);
    int64_t i4[4];
    acc_t w4[4];
    input_weights<acc_t>(d, s, i4, w4);
    for (int k = 0; k < 4; ++k) {
      idx[k * d.W + q] = static_cast<int32_t>(i4[k]);
      wgt[k * d.W + q] = w4[k];
    }
  }
}

// ---- forward ---------------------------------------------------------------------------------

// Applies one output row's precomputed corners (int32, 4 x W) and weights (4 x W) to `nchan`
// channel planes (x planes `xstride` apart, output rows `ostride` apart). Blocks of kQ output
// columns keep their corners and weights in registers while the loop runs over the channels.
constexpr int64_t kQ = 8;

template <typename scalar_t, typename acc_t>
void apply_rows_generic(const scalar_t* xbase, int64_t xstride, int64_t nchan, const int32_t* idx,
                        const acc_t* wgt, int64_t W, scalar_t* obase, int64_t ostride) {
  for (int64_t q0 = 0; q0 < W; q0 += kQ) {
    const int64_t nq = std::min<int64_t>(kQ, W - q0);
    for (int64_t c = 0; c < nchan; ++c) {
      const scalar_t* plane = xbase + c * xstride;
      scalar_t* orow = obase + c * ostride;
      for (int64_t u = 0; u < nq; ++u) {
        const int64_t q = q0 + u;
        acc_t v = acc_t(0);
        for (int k = 0; k < 4; ++k) v += wgt[k * W + q] * static_cast<acc_t>(plane[idx[k * W + q]]);
        orow[q] = static_cast<scalar_t>(v);
      }
    }
  }
}

// Columns [q_from, W) of every channel, one at a time (the tails of the vector paths).
inline void apply_columns(const float* xbase, int64_t xstride, int64_t nchan, const int32_t* idx,
                          const float* wgt, int64_t W, int64_t q_from, float* obase,
                          int64_t ostride) {
  for (int64_t c = 0; q_from < W && c < nchan; ++c) {
    const float* plane = xbase + c * xstride;
    for (int64_t q = q_from; q < W; ++q) {
      float v = 0.f;
      for (int k = 0; k < 4; ++k) v += wgt[k * W + q] * plane[idx[k * W + q]];
      obase[c * ostride + q] = v;
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define UPB_HAVE_AVX2_PATH 1
__attribute__((target("avx2,fma"))) void apply_rows_avx2(const float* xbase, int64_t xstride,
                                                         int64_t nchan, const int32_t* idx,
                                                         const float* wgt, int64_t W,
                                                         float* obase, int64_t ostride) {
  int64_t q0 = 0;
  for (; q0 + 8 <= W; q0 += 8) {
    const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + q0));
    const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + W + q0));
    const __m256i i2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 2 * W + q0));
    const __m256i i3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 3 * W + q0));
    const __m256 w0 = _mm256_loadu_ps(wgt + q0), w1 = _mm256_loadu_ps(wgt + W + q0);
    const __m256 w2 = _mm256_loadu_ps(wgt + 2 * W + q0), w3 = _mm256_loadu_ps(wgt + 3 * W + q0);
    for (int64_t c = 0; c < nchan; ++c) {
      const float* plane = xbase + c * xstride;
      __m256 v = _mm256_mul_ps(w0, _mm256_i32gather_ps(plane, i0, 4));
      v = _mm256_fmadd_ps(w1, _mm256_i32gather_ps(plane, i1, 4), v);
      v = _mm256_fmadd_ps(w2, _mm256_i32gather_ps(plane, i2, 4), v);
      v = _mm256_fmadd_ps(w3, _mm256_i32gather_ps(plane, i3, 4), v);
      _mm256_storeu_ps(obase + c * ostride + q0, v);
    }
  }
  apply_columns(xbase, xstride, nchan, idx, wgt, W, q0, obase, ostride);  // tail columns
}

// 16 columns per step with AVX-512 gathers, the remaining columns scalar.
__attribute__((target("avx512f"))) void apply_rows_avx512(const float* xbase, int64_t xstride,
                                                           int64_t nchan, const int32_t* idx,
                                                           const float* wgt, int64_t W,
                                                           float* obase, int64_t ostride) {
  // channel blocks of 16 (their x planes stay in cache while the row's columns sweep them)
  constexpr int64_t kC = 16;
  const int64_t W16 = W / 16 * 16;
  for (int64_t cb = 0; cb < nchan; cb += kC) {
    const int64_t ce = std::min(nchan, cb + kC);
    for (int64_t q0 = 0; q0 < W16; q0 += 16) {
      const __m512i i0 = _mm512_loadu_si512(idx + q0), i1 = _mm512_loadu_si512(idx + W + q0);
      const __m512i i2 = _mm512_loadu_si512(idx + 2 * W + q0);
      const __m512i i3 = _mm512_loadu_si512(idx + 3 * W + q0);
      const __m512 w0 = _mm512_loadu_ps(wgt + q0), w1 = _mm512_loadu_ps(wgt + W + q0);
      const __m512 w2 = _mm512_loadu_ps(wgt + 2 * W + q0), w3 = _mm512_loadu_ps(wgt + 3 * W + q0);
      for (int64_t c = cb; c < ce; ++c) {
        const float* plane = xbase + c * xstride;
        __m512 v = _mm512_mul_ps(w0, _mm512_i32gather_ps(i0, plane, 4));
        v = _mm512_fmadd_ps(w1, _mm512_i32gather_ps(i1, plane, 4), v);
        v = _mm512_fmadd_ps(w2, _mm512_i32gather_ps(i2, plane, 4), v);
        v = _mm512_fmadd_ps(w3, _mm512_i32gather_ps(i3, plane, 4), v);
        _mm512_storeu_ps(obase + c * ostride + q0, v);
      }
    }
  }
  apply_columns(xbase, xstride, nchan, idx, wgt, W, W16, obase, ostride);  // the remaining columns
}

bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
#endif

inline void apply_rows(const float* xbase, int64_t xstride, int64_t nchan, const int32_t* idx,
                       const float* wgt, int64_t W, float* obase, int64_t ostride) {
#ifdef UPB_HAVE_AVX2_PATH
  if (cpu_has_avx512() && W >= 16)
    return apply_rows_avx512(xbase, xstride, nchan, idx, wgt, W, obase, ostride);
  if (cpu_has_avx2()) return apply_rows_avx2(xbase, xstride, nchan, idx, wgt, W, obase, ostride);
#endif
  apply_rows_generic<float, float>(xbase, xstride, nchan, idx, wgt, W, obase, ostride);
}

inline void apply_rows(const double* xbase, int64_t xstride, int64_t nchan, const int32_t* idx,
                       const double* wgt, int64_t W, double* obase, int64_t ostride) {
  apply_rows_generic<double, double>(xbase, xstride, nchan, idx, wgt, W, obase, ostride);
}

template <typename scalar_t>
void forward_rows(const scalar_t* xp, const scalar_t* op_, scalar_t* out, const Dims& d,
                  int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, per = d.C / d.M;
  at::parallel_for(0, N * d.M * d.H, grain_for(d.W * per * 4), [&](int64_t begin, int64_t end) {
    std::vector<int32_t> idx(4 * d.W);
    std::vector<acc_t> wgt(4 * d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nm = t / d.H, n = nm / d.M, m = nm % d.M;
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      row_corners<scalar_t, acc_t>(obase, d, m, p, idx.data(), wgt.data());
      int64_t c_lo, c_hi;
      group_channels(d, m, c_lo, c_hi);
      apply_rows(xp + (n * d.C + c_lo) * hw, hw, c_hi - c_lo, idx.data(), wgt.data(), d.W,
                 out + ((n * d.C + c_lo) * d.H + p) * d.W, HW);
    }
  });
}

template <typename scalar_t>
void forward_elementwise(const scalar_t* xp, const scalar_t* op_, scalar_t* out, const Dims& d,
                         int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w;
  at::parallel_for(0, N * d.C * d.H, grain_for(d.W * 8), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nc = t / d.H, n = nc / d.C, c = nc % d.C;
      const int64_t m = group_of(d, c);
      for (int64_t q = 0; q < d.W; ++q) {
        const Sample<acc_t> s = sample_at<scalar_t, acc_t>(op_ + n * 2 * d.M * HW, d, m, p, q);
        out[t * d.W + q] = static_cast<scalar_t>(forward_elem<scalar_t, acc_t>(xp + nc * hw, d, s));
      }
    }
  });
}

// ---- backward: offset gradient (gather over the group's channels) -----------------------------

#ifdef UPB_HAVE_AVX2_PATH
// The offset gradient of one output row, 16 columns per step with AVX-512 gathers: corners
// (int32, 4 x W), lambdas and in-map flags per column (ly, lx, dy, dx: W each), the channels'
// x planes `xstride` apart and grad_out rows `gstride` apart; gy, gx receive the sums. The same
// terms as grad_offset_terms, channels summed in the same order. Returns the first column not
// done (the scalar tail).
__attribute__((target("avx512f"))) int64_t grad_offset_avx512(
    const float* xbase, int64_t xstride, const float* gbase, int64_t gstride, int64_t nchan,
    const int32_t* idx, const float* lam_y, const float* lam_x, const float* dpos_y,
    const float* dpos_x, int64_t W, float* gy, float* gx) {
  const int64_t W16 = W / 16 * 16;
  for (int64_t q0 = 0; q0 < W16; q0 += 16) {
    const __m512i i0 = _mm512_loadu_si512(idx + q0), i1 = _mm512_loadu_si512(idx + W + q0);
    const __m512i i2 = _mm512_loadu_si512(idx + 2 * W + q0);
    const __m512i i3 = _mm512_loadu_si512(idx + 3 * W + q0);
    const __m512 ly = _mm512_loadu_ps(lam_y + q0), lx = _mm512_loadu_ps(lam_x + q0);
    const __m512 sy = _mm512_loadu_ps(dpos_y + q0), sx = _mm512_loadu_ps(dpos_x + q0);
    __m512 ay = _mm512_setzero_ps(), ax = _mm512_setzero_ps();
    for (int64_t c = 0; c < nchan; ++c) {
      const float* plane = xbase + c * xstride;
      const __m512 v00 = _mm512_i32gather_ps(i0, plane, 4), v01 = _mm512_i32gather_ps(i1, plane, 4);
      const __m512 v10 = _mm512_i32gather_ps(i2, plane, 4), v11 = _mm512_i32gather_ps(i3, plane, 4);
      const __m512 top = _mm512_fmadd_ps(lx, _mm512_sub_ps(v01, v00), v00);
      const __m512 bot = _mm512_fmadd_ps(lx, _mm512_sub_ps(v11, v10), v10);
      const __m512 left = _mm512_fmadd_ps(ly, _mm512_sub_ps(v10, v00), v00);
      const __m512 right = _mm512_fmadd_ps(ly, _mm512_sub_ps(v11, v01), v01);
      const __m512 g = _mm512_loadu_ps(gbase + c * gstride + q0);
      ay = _mm512_fmadd_ps(_mm512_mul_ps(g, sy), _mm512_sub_ps(bot, top), ay);
      ax = _mm512_fmadd_ps(_mm512_mul_ps(g, sx), _mm512_sub_ps(right, left), ax);
    }
    _mm512_storeu_ps(gy + q0, ay);
    _mm512_storeu_ps(gx + q0, ax);
  }
  return W16;
}
#endif

template <typename scalar_t>
void grad_offset(const scalar_t* go, const scalar_t* xp, const scalar_t* op_, scalar_t* gop,
                 const Dims& d, int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, per = d.C / d.M;
  const bool ew = cpu_elementwise();
  at::parallel_for(0, N * d.M * d.H, grain_for(d.W * per * 8), [&](int64_t begin, int64_t end) {
    std::vector<Sample<acc_t>> smp(d.W);
    std::vector<acc_t> gy(d.W), gx(d.W), ly(d.W), lx(d.W), sy(d.W), sx(d.W);
    std::vector<int32_t> idx(4 * d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nm = t / d.H, n = nm / d.M, m = nm % d.M;
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      for (int64_t q = 0; q < d.W; ++q) smp[q] = sample_at<scalar_t, acc_t>(obase, d, m, p, q);
      std::fill(gy.begin(), gy.end(), acc_t(0));
      std::fill(gx.begin(), gx.end(), acc_t(0));
      int64_t c_lo, c_hi;
      group_channels(d, m, c_lo, c_hi);
      if (ew) {  // the CUDA kernel's order: per element, channels innermost
        for (int64_t q = 0; q < d.W; ++q)
          for (int64_t c = c_lo; c < c_hi; ++c)
            grad_offset_terms<scalar_t, acc_t>(
                xp + (n * d.C + c) * hw, d, smp[q],
                static_cast<acc_t>(go[((n * d.C + c) * d.H + p) * d.W + q]), gy[q], gx[q]);
      } else {
        int64_t q_from = 0;
#ifdef UPB_HAVE_AVX2_PATH
        if constexpr (std::is_same_v<scalar_t, float>) {
          if (cpu_has_avx512() && d.W >= 16) {
            for (int64_t q = 0; q < d.W; ++q) {
              int64_t i4[4];
              acc_t w4[4];
              input_weights<acc_t>(d, smp[q], i4, w4);
              for (int k = 0; k < 4; ++k) idx[k * d.W + q] = static_cast<int32_t>(i4[k]);
              ly[q] = smp[q].y.lam;
              lx[q] = smp[q].x.lam;
              sy[q] = smp[q].y.dpos;
              sx[q] = smp[q].x.dpos;
            }
            q_from = grad_offset_avx512(xp + (n * d.C + c_lo) * hw, hw,
                                        go + ((n * d.C + c_lo) * d.H + p) * d.W, HW, c_hi - c_lo,
                                        idx.data(), ly.data(), lx.data(), sy.data(), sx.data(),
                                        d.W, gy.data(), gx.data());
          }
        }
#endif
        for (int64_t c = c_lo; c < c_hi; ++c) {
          const scalar_t* plane = xp + (n * d.C + c) * hw;
          const scalar_t* grow = go + ((n * d.C + c) * d.H + p) * d.W;
          for (int64_t q = q_from; q < d.W; ++q)
            grad_offset_terms<scalar_t, acc_t>(plane, d, smp[q], static_cast<acc_t>(grow[q]),
                                               gy[q], gx[q]);
        }
      }
      scalar_t* oy = gop + (n * 2 * d.M + 2 * m) * HW + p * d.W;
      scalar_t* ox = oy + HW;
      for (int64_t q = 0; q < d.W; ++q) {
        oy[q] = static_cast<scalar_t>(gy[q]);
        ox[q] = static_cast<scalar_t>(gx[q]);
      }
    }
  });
}

// ---- backward: input gradient (serial scatter per plane, deterministic) -----------------------

// Channels of one offset group whose input gradients one task accumulates: the row's sampling
// points are computed once for all of them, so blocks are as large as the threads allow, within
// [kGxMinChannels, kGxMaxChannels] (their accumulator planes stay in L2).
constexpr int64_t kGxMinChannels = 8, kGxMaxChannels = 32;

inline int64_t gx_block_channels(int64_t per, int64_t groups) {
  const int64_t want = (2 * at::get_num_threads() + groups - 1) / groups;  // blocks per group
  const int64_t cb = (per + want - 1) / want;
  return std::max(kGxMinChannels, std::min(kGxMaxChannels, cb));
}

template <typename scalar_t>
void grad_x(const scalar_t* go, const scalar_t* op_, scalar_t* gxp, const Dims& d, int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, per = d.C / d.M;
  const int64_t CB = gx_block_channels(per, N * d.M);
  const int64_t blocks = (per + CB - 1) / CB;  // channel blocks per group
  at::parallel_for(0, N * d.M * blocks, grain_for(HW * 12 * CB), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(CB * hw), wgt(4 * d.W);
    std::vector<int32_t> idx(4 * d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t % blocks, nm = t / blocks, n = nm / d.M, m = nm % d.M;
      const int64_t c_lo = m * per + b * CB, nc = std::min(CB, (m + 1) * per - c_lo);
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      std::fill(acc.begin(), acc.begin() + nc * hw, acc_t(0));
      for (int64_t p = 0; p < d.H; ++p) {
        row_corners<scalar_t, acc_t>(obase, d, m, p, idx.data(), wgt.data());
        // every plane is accumulated serially in (p, q, corner) order: deterministic
        for (int64_t cc = 0; cc < nc; ++cc) {
          const scalar_t* grow = go + ((n * d.C + c_lo + cc) * d.H + p) * d.W;
          acc_t* a = acc.data() + cc * hw;
          for (int64_t q = 0; q < d.W; ++q) {
            const acc_t g = static_cast<acc_t>(grow[q]);
            for (int k = 0; k < 4; ++k) a[idx[k * d.W + q]] += wgt[k * d.W + q] * g;
          }
        }
      }
      for (int64_t cc = 0; cc < nc; ++cc) {
        scalar_t* out = gxp + (n * d.C + c_lo + cc) * hw;
        const acc_t* a = acc.data() + cc * hw;
        for (int64_t i = 0; i < hw; ++i) out[i] = static_cast<scalar_t>(a[i]);
      }
    }
  });
}

}  // namespace

at::Tensor offset_bilinear_cpu(const at::Tensor& x_, const at::Tensor& offsets, int64_t sh,
                               int64_t sw, bool align_corners) {
  contract::offset_bilinear(x_, offsets, sh, sw);
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous();
  const Dims d = make_dims(x, off, sh, sw, align_corners);
  at::Tensor out = at::empty({x.size(0), d.C, d.H, d.W}, x.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "offset_bilinear_cpu", [&] {
    auto fn = cpu_elementwise() ? forward_elementwise<scalar_t> : forward_rows<scalar_t>;
    fn(x.const_data_ptr<scalar_t>(), off.const_data_ptr<scalar_t>(),
       out.mutable_data_ptr<scalar_t>(), d, x.size(0));
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> offset_bilinear_backward_cpu(const at::Tensor& grad_out,
                                                                const at::Tensor& x_,
                                                                const at::Tensor& offsets,
                                                                int64_t sh, int64_t sw,
                                                                bool align_corners) {
  contract::offset_bilinear_backward(grad_out, x_, offsets, sh, sw);
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous(), go = grad_out.contiguous();
  const Dims d = make_dims(x, off, sh, sw, align_corners);
  at::Tensor gx = at::empty_like(x), goff = at::empty_like(off);
  if (any_empty({x, off, go})) return std::make_tuple(at::zeros_like(x), at::zeros_like(off));
  advise_huge_pages(gx);
  advise_huge_pages(goff);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "offset_bilinear_backward_cpu", [&] {
    grad_x<scalar_t>(go.const_data_ptr<scalar_t>(), off.const_data_ptr<scalar_t>(),
                     gx.mutable_data_ptr<scalar_t>(), d, x.size(0));
    grad_offset<scalar_t>(go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
                          off.const_data_ptr<scalar_t>(), goff.mutable_data_ptr<scalar_t>(), d,
                          x.size(0));
  });
  return std::make_tuple(gx, goff);
}

}  // namespace offset_bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("offset_bilinear", &upb::offset_bilinear::offset_bilinear_cpu);
  m.impl("_offset_bilinear_backward", &upb::offset_bilinear::offset_bilinear_backward_cpu);
}
