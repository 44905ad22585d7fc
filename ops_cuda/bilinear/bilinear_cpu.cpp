// CPU kernels for upbench::bilinear_upsample. The forward precomputes the per-column source
// indices and weights once (bilinear.h's source_index) and runs rows in parallel; the backward is
// a deterministic gather, one task per input row: a separable fast path, and an elementwise path
// (cpu_kernel_mode 1) that calls grad_elem exactly as the CUDA kernel does.
#include <algorithm>
#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_phase_cpu.h"
#include "bilinear.h"

namespace upb {
namespace bilinear {
namespace {

// The first step of the separable backward: tr[q] = sum over the output rows p that read input
// row y of their weight times gplane[p][q] (W columns).
template <typename scalar_t, typename acc_t>
void gather_rows_reading(const scalar_t* gplane, int64_t y, int s, int64_t h, int64_t W,
                         acc_t* __restrict__ tr) {
  int64_t plo, phi;
  reader_range(y, s, h * s, plo, phi);
  std::fill(tr, tr + W, acc_t(0));
  for (int64_t p = plo; p < phi; ++p) {
    const acc_t wy = axis_weight<acc_t>(p, y, s, h);
    if (wy == acc_t(0)) continue;
    const scalar_t* __restrict__ grow = gplane + p * W;
#pragma omp simd
    for (int64_t q = 0; q < W; ++q) tr[q] += wy * static_cast<acc_t>(grow[q]);
  }
}

#if UPB_PHASE_KERNELS
// Phase b of scale S (align_corners=False): away from the borders, output index S*x + b reads
// input x + d and x + d + 1 with weight lam on the second (the exact values of source_index); at
// the borders the clamped reads are the same stencil over a row padded by its edge values.
template <typename acc_t>
struct Phase {
  int64_t d;
  acc_t lam;
};

template <int S, typename acc_t>
void phases(Phase<acc_t>* ph) {
  for (int b = 0; b < S; ++b) {
    const acc_t o = (acc_t(b) + acc_t(0.5)) / acc_t(S) - acc_t(0.5);
    ph[b] = o >= acc_t(0) ? Phase<acc_t>{0, o} : Phase<acc_t>{-1, acc_t(1) + o};
  }
}

// Forward for scale S: per input row y, the S output rows each mix two (clamped) input rows into
// an edge-padded row V, and every phase b is one vector stencil over V, interleaved on store.
template <int S, typename T>
void forward_phase(const T* xp, T* op, int64_t NC, int64_t h, int64_t w, bool stream) {
  using V = phase::vec_t<T>;
  constexpr int64_t L = phase::Vec<T>::lanes;
  const int64_t W = S * w;
  Phase<T> ph[S];
  phases<S, T>(ph);
  at::parallel_for(0, NC * h, grain_for(8 * S * W), [&](int64_t begin, int64_t end) {
    std::vector<T> vrow(w + 2 + L);  // V[-1 .. w] at vrow[0 .. w + 1], room for a full last load
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % h, nc = t / h;
      const T* plane = xp + nc * h * w;
      for (int a = 0; a < S; ++a) {
        const int64_t y0 = std::clamp<int64_t>(y + ph[a].d, 0, h - 1);
        const int64_t y1 = std::clamp<int64_t>(y + ph[a].d + 1, 0, h - 1);
        const T* r0 = plane + y0 * w;
        const T* r1 = plane + y1 * w;
        const T l = ph[a].lam, m = T(1) - l;
        T* v = vrow.data() + 1;
        for (int64_t x = 0; x < w; ++x) v[x] = m * r0[x] + l * r1[x];
        v[-1] = v[0];
        v[w] = v[w - 1];
        T* orow = op + (nc * S * h + y * S + a) * W;
        for (int64_t x0 = 0; x0 < w; x0 += L) {
          V out[S];
          for (int b = 0; b < S; ++b) {
            const T* src = v + x0 + ph[b].d;
            out[b] = (T(1) - ph[b].lam) * phase::vload(src) + ph[b].lam * phase::vload(src + 1);
          }
          phase::store_phases<S, T>(out, std::min(L, w - x0), stream, false, orow + x0 * S);
        }
      }
    }
    if (stream) phase::stream_fence();
  });
}
#endif

}  // namespace

at::Tensor bilinear_upsample_cpu(const at::Tensor& input, int64_t s) {
  TORCH_CHECK(input.dim() == 4, "bilinear_upsample: x must be 4-D");
  TORCH_CHECK(s >= 1, "bilinear_upsample: scale_factor must be >= 1");
  const at::Tensor x = input.contiguous();
  const int64_t NC = x.size(0) * x.size(1), h = x.size(2), w = x.size(3), H = h * s, W = w * s;
  at::Tensor out = at::empty({x.size(0), x.size(1), H, W}, x.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bilinear_upsample_cpu", [&] {
    using acc_t = typename AccType<scalar_t>::type;
#if UPB_PHASE_KERNELS
    // the phase stencils skip zero-weight taps; a non-finite input takes the row path, which
    // multiplies every tap as ATen does (so NaN and inf reach the outputs they reach there)
    if (!cpu_elementwise() && phase::supported(s) && h > 0 && w > 0 && all_finite<scalar_t>(x)) {
      const bool stream = phase::stream_output(out.nbytes());
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      scalar_t* op = out.mutable_data_ptr<scalar_t>();
      phase::with_scale(s, [&](auto S) {
        forward_phase<decltype(S)::value>(xp, op, NC, h, w, stream);
      });
      return;
    }
#endif
    std::vector<int64_t> x0(W), x1(W);
    std::vector<acc_t> lx(W);
    for (int64_t q = 0; q < W; ++q) source_index<acc_t>(q, static_cast<int>(s), w, x0[q], x1[q], lx[q]);
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, NC * H, grain_for(4 * W), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t p = t % H, nc = t / H;
        int64_t y0, y1;
        acc_t ly;
        source_index<acc_t>(p, static_cast<int>(s), h, y0, y1, ly);
        const scalar_t* r0 = xp + (nc * h + y0) * w;
        const scalar_t* r1 = xp + (nc * h + y1) * w;
        scalar_t* orow = op + t * W;
        const acc_t wy0 = acc_t(1) - ly;
        for (int64_t q = 0; q < W; ++q) {
          const acc_t a = lx[q], b = acc_t(1) - a;
          const acc_t top = b * static_cast<acc_t>(r0[x0[q]]) + a * static_cast<acc_t>(r0[x1[q]]);
          const acc_t bot = b * static_cast<acc_t>(r1[x0[q]]) + a * static_cast<acc_t>(r1[x1[q]]);
          orow[q] = static_cast<scalar_t>(wy0 * top + ly * bot);
        }
      }
    });
  });
  return out;
}

namespace {

// Column weights of the separable gather: for input column x, the output columns [lo, hi) that
// read it and their weights (axis_weight from bilinear.h, the function the CUDA kernel uses).
template <typename acc_t>
struct ColumnGather {
  std::vector<int64_t> lo, hi;
  std::vector<acc_t> weight;  // (hi - lo) weights per column, packed at offset[x]
  std::vector<int64_t> offset;

  ColumnGather(int64_t w, int s) : lo(w), hi(w), offset(w + 1, 0) {
    for (int64_t x = 0; x < w; ++x) {
      reader_range(x, s, w * s, lo[x], hi[x]);
      offset[x + 1] = offset[x] + (hi[x] - lo[x]);
      for (int64_t q = lo[x]; q < hi[x]; ++q) weight.push_back(axis_weight<acc_t>(q, x, s, w));
    }
  }
};

// Fast path: per input row y, first gather the output rows that read it into one row (a
// vectorised multiply-add over W), then gather that row's columns with the precomputed weights.
template <typename scalar_t>
void backward_rows(const scalar_t* gp, scalar_t* out, int64_t NC, int64_t h, int64_t w, int s) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = h * s, W = w * s;
  const ColumnGather<acc_t> cols(w, s);
  at::parallel_for(0, NC * h, grain_for(W * 3 * s), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> tmp(W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % h, nc = t / h;
      acc_t* tr = tmp.data();
      gather_rows_reading(gp + nc * H * W, y, s, h, W, tr);
      for (int64_t x = 0; x < w; ++x) {
        acc_t acc = acc_t(0);
        const acc_t* wx = cols.weight.data() + cols.offset[x];
        for (int64_t q = cols.lo[x]; q < cols.hi[x]; ++q) acc += wx[q - cols.lo[x]] * tr[q];
        out[t * w + x] = static_cast<scalar_t>(acc);
      }
    }
  });
}

// Elementwise path: every element from grad_elem, exactly as the CUDA kernel computes it.
#if UPB_PHASE_KERNELS
// Backward for scale S: per input row y the output rows that read it are gathered into one row
// (as backward_rows), which is split into its S phases; the column gather is then the adjoint of
// the forward's stencil over the edge-padded row, one vector expression per block of columns, the
// two padding entries folded back into the first and last column.
template <int S, typename T>
void backward_phase(const T* gp, T* out, int64_t NC, int64_t h, int64_t w) {
  using V = phase::vec_t<T>;
  constexpr int64_t L = phase::Vec<T>::lanes;
  const int64_t H = h * S, W = w * S, TP = w + 4 + L;  // T_b[k], k in [-2, w + 1], at [2 + k]
  Phase<T> ph[S];
  phases<S, T>(ph);
  at::parallel_for(0, NC * h, grain_for(W * 3 * S), [&](int64_t begin, int64_t end) {
    std::vector<T> tmp(W), tb(S * TP, T(0)), gv(w + 2 + L);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % h, nc = t / h;
      T* tr = tmp.data();
      gather_rows_reading(gp + nc * H * W, y, S, h, W, tr);
      phase::deinterleave<S>(tr, 0, w, TP, tb.data() + 2);
      // GV[k] (k in [-1, w], at gv[1 + k]) = sum_b (1 - lam_b) T_b[k - d_b] + lam_b T_b[k - d_b - 1]
      for (int64_t k0 = -1; k0 <= w; k0 += L) {
        V acc = V{};
        for (int b = 0; b < S; ++b) {
          const T* src = tb.data() + b * TP + 2 + k0 - ph[b].d;
          acc += (T(1) - ph[b].lam) * phase::vload(src) + ph[b].lam * phase::vload(src - 1);
        }
        std::memcpy(gv.data() + 1 + k0, &acc, sizeof(acc));
      }
      T* orow = out + t * w;
      std::copy(gv.data() + 1, gv.data() + 1 + w, orow);
      orow[0] += gv[0];
      orow[w - 1] += gv[w + 1];
    }
  });
}
#endif

template <typename scalar_t>
void backward_elementwise(const scalar_t* gp, scalar_t* out, int64_t NC, int64_t h, int64_t w,
                          int s) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = h * s, W = w * s;
  at::parallel_for(0, NC * h, grain_for(w * 9 * s * s), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % h, nc = t / h;
      for (int64_t xx = 0; xx < w; ++xx) {
        out[t * w + xx] = static_cast<scalar_t>(grad_elem<scalar_t, acc_t>(gp + nc * H * W, h, w, s, y, xx));
      }
    }
  });
}

}  // namespace

at::Tensor bilinear_upsample_backward_cpu(const at::Tensor& grad_out, int64_t h, int64_t w,
                                          int64_t s) {
  TORCH_CHECK(grad_out.dim() == 4 && grad_out.size(2) == h * s && grad_out.size(3) == w * s,
              "bilinear_upsample_backward: grad_out must be (N, C, s*h, s*w)");
  const at::Tensor g = grad_out.contiguous();
  const int64_t NC = g.size(0) * g.size(1);
  at::Tensor gx = at::empty({g.size(0), g.size(1), h, w}, g.options());
  advise_huge_pages(gx);
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "bilinear_upsample_backward_cpu", [&] {
#if UPB_PHASE_KERNELS
    if (!cpu_elementwise() && phase::supported(s) && h > 0 && w > 0) {
      const scalar_t* gp = g.const_data_ptr<scalar_t>();
      scalar_t* gxp = gx.mutable_data_ptr<scalar_t>();
      phase::with_scale(s, [&](auto S) { backward_phase<decltype(S)::value>(gp, gxp, NC, h, w); });
      return;
    }
#endif
    auto fn = cpu_elementwise() ? backward_elementwise<scalar_t> : backward_rows<scalar_t>;
    fn(g.const_data_ptr<scalar_t>(), gx.mutable_data_ptr<scalar_t>(), NC, h, w, static_cast<int>(s));
  });
  return gx;
}

}  // namespace bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("bilinear_upsample", &upb::bilinear::bilinear_upsample_cpu);
  m.impl("_bilinear_upsample_backward", &upb::bilinear::bilinear_upsample_backward_cpu);
}
