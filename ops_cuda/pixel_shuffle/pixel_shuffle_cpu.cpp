// CPU kernels for upbench::pixel_shuffle: one task per output row (forward) or per input row
// (backward), index math from pixel_shuffle.h. Pure gathers, deterministic.
#include <algorithm>

#include "../common/upb_cpu.h"
#include "../common/upb_contract.h"
#include "../common/upb_phase_cpu.h"
#include "pixel_shuffle.h"

namespace upb {
namespace pixel_shuffle {
namespace {

// One output row: orow[k*S + j] = src[j*plane + k] (the S input channels of sub-column j are
// `plane` = h*w apart). A compile-time S (the common 2..4) lets the compiler vectorise the
// interleave; S = 0 is the runtime-s fallback.
template <int S, typename scalar_t>
inline void interleave_row(const scalar_t* __restrict__ src, int64_t plane, int64_t w, int64_t s,
                           scalar_t* __restrict__ orow) {
  const int64_t ss = S > 0 ? S : s;
  for (int64_t k = 0; k < w; ++k)
    for (int64_t j = 0; j < ss; ++j) orow[k * ss + j] = src[j * plane + k];
}

// One input-gradient row: row[k] = src[k*S] (S = 0: runtime s).
template <int S, typename scalar_t>
inline void stride_row(const scalar_t* __restrict__ src, int64_t w, int64_t s,
                       scalar_t* __restrict__ row) {
  const int64_t ss = S > 0 ? S : s;
  for (int64_t k = 0; k < w; ++k) row[k] = src[k * ss];
}

#if UPB_PHASE_KERNELS
// Output channel c of sample n for scale S: its S*S source planes (ci = (c*S + i)*S + j) are
// consecutive, so output row y*S + i interleaves the S planes j of group i, row y, one vector of
// columns per phase (the phase kernels' store), and the backward splits every gradient row into
// them (deinterleave). One task per output plane: no per-row index arithmetic.
template <int S, typename T>
void forward_planes(const T* xp, T* op, int64_t NC, int64_t h, int64_t w, bool stream) {
  constexpr int64_t L = phase::Vec<T>::lanes;
  const int64_t hw = h * w, W = S * w;
  at::parallel_for(0, NC, grain_for(S * S * hw), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const T* src = xp + t * S * S * hw;
      T* dst = op + t * S * S * hw;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t i = 0; i < S; ++i) {
          const T* rows = src + i * S * hw + y * w;  // plane j at rows + j*hw
          T* orow = dst + (y * S + i) * W;
          int64_t x0 = 0;
          for (; x0 + L <= w; x0 += L) {
            phase::vec_t<T> ph[S];
            for (int j = 0; j < S; ++j) ph[j] = phase::vload(rows + j * hw + x0);
            phase::store_phases<S, T>(ph, L, stream, false, orow + x0 * S);
          }
          interleave_row<S>(rows + x0, hw, w - x0, S, orow + x0 * S);  // the last < L columns
        }
    }
    if (stream) phase::stream_fence();
  });
}

template <int S, typename T>
void backward_planes(const T* gp, T* op, int64_t NC, int64_t h, int64_t w) {
  const int64_t hw = h * w, W = S * w;
  at::parallel_for(0, NC, grain_for(S * S * hw), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const T* src = gp + t * S * S * hw;
      T* dst = op + t * S * S * hw;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t i = 0; i < S; ++i)
          phase::deinterleave<S>(src + (y * S + i) * W, 0, w, hw, dst + i * S * hw + y * w);
    }
  });
}
#endif

}  // namespace

at::Tensor pixel_shuffle_cpu(const at::Tensor& input, int64_t s) {
  contract::pixel_shuffle(input, s);
  const at::Tensor x = input.contiguous();
  const int64_t N = x.size(0), C = x.size(1) / (s * s), h = x.size(2), w = x.size(3);
  const int64_t H = h * s, W = w * s;
  at::Tensor out = at::empty({N, C, H, W}, x.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pixel_shuffle_cpu", [&] {
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
#if UPB_PHASE_KERNELS
    if (!cpu_elementwise() && phase::supported(s) && w > 0) {
      const bool stream = phase::stream_output(out.nbytes());
      phase::with_scale(s, [&](auto S) {
        forward_planes<decltype(S)::value>(xp, op, N * C, h, w, stream);
      });
      return;
    }
#endif
    at::parallel_for(0, N * C * H, grain_for(W), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t oh = t % H, nc = t / H, n = nc / C, c = nc % C;
        // sub-column j of this row reads input channel (c*s + oh%s)*s + j: the j = 0 source
        // plus j planes
        const scalar_t* src = xp + source_of_output(n, c, oh, 0, C, h, w, static_cast<int>(s));
        scalar_t* orow = op + t * W;
        switch (s) {
          case 2: interleave_row<2>(src, h * w, w, s, orow); break;
          case 3: interleave_row<3>(src, h * w, w, s, orow); break;
          case 4: interleave_row<4>(src, h * w, w, s, orow); break;
          default: interleave_row<0>(src, h * w, w, s, orow);
        }
      }
    });
  });
  return out;
}

at::Tensor pixel_shuffle_backward_cpu(const at::Tensor& grad_out, int64_t s) {
  contract::pixel_shuffle_backward(grad_out, s);
  const at::Tensor g = grad_out.contiguous();
  const int64_t N = g.size(0), C = g.size(1), h = g.size(2) / s, w = g.size(3) / s;
  const int64_t Ci = C * s * s;
  at::Tensor gx = at::empty({N, Ci, h, w}, g.options());
  advise_huge_pages(gx);
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "pixel_shuffle_backward_cpu", [&] {
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    scalar_t* op = gx.mutable_data_ptr<scalar_t>();
#if UPB_PHASE_KERNELS
    if (!cpu_elementwise() && phase::supported(s) && w > 0) {
      phase::with_scale(s, [&](auto S) {
        backward_planes<decltype(S)::value>(gp, op, N * C, h, w);
      });
      return;
    }
#endif
    at::parallel_for(0, N * Ci * h, grain_for(w), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t y = t % h, nci = t / h, n = nci / Ci, ci = nci % Ci;
        const scalar_t* src = gp + output_of_source(n, ci, y, 0, C, h, w, static_cast<int>(s));
        scalar_t* row = op + t * w;
        switch (s) {
          case 2: stride_row<2>(src, w, s, row); break;
          case 3: stride_row<3>(src, w, s, row); break;
          case 4: stride_row<4>(src, w, s, row); break;
          default: stride_row<0>(src, w, s, row);
        }
      }
    });
  });
  return gx;
}

}  // namespace pixel_shuffle
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("pixel_shuffle", &upb::pixel_shuffle::pixel_shuffle_cpu);
  m.impl("_pixel_shuffle_backward", &upb::pixel_shuffle::pixel_shuffle_backward_cpu);
}
