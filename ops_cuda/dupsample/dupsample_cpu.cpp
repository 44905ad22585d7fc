// CPU kernels for upbench::dupsample.
//
// Two ways to compute the same sums (see dupsample.h):
//  * the default path: the linear reconstruction is one BLAS GEMM per image
//    (hw x Ct) @ (Ct x C*r*r), whose rows are the r*r*C patch vectors of the low-res locations;
//    depth-to-space and the bias are fused into the single pass that writes the output (r
//    contiguous values per patch row). The backward gathers grad_out into patch rows once and
//    uses two GEMMs; the bias gradient is a fixed-order sum. No atomics: deterministic.
//  * the elementwise path (cpu_kernel_mode 1, used by the tests): every element comes from the
//    forward_elem / grad_f_elem / grad_w_elem / grad_b_elem functions the CUDA kernels call.
#include <ATen/ops/mm.h>

#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_contract.h"
#include "dupsample.h"

namespace upb {
namespace dupsample {
namespace {

Dims make_dims(const at::Tensor& f, const at::Tensor& W, int64_t r) {
  return Dims{f.size(0), f.size(1), W.size(0) / (r * r), f.size(2), f.size(3), r};
}

// ---- forward -----------------------------------------------------------------------------------

template <typename scalar_t>
void forward_gemm(const at::Tensor& f, const at::Tensor& W, const scalar_t* bp, scalar_t* op,
                  const Dims& d) {
  const int64_t hw = d.h * d.w, O = d.O(), H = d.H(), Wd = d.W();
  for (int64_t n = 0; n < d.N; ++n) {
    // P[loc, o] = sum_k f[n, k, loc] * W[o, k]: (hw x Ct) @ (Ct x O), transposed views, no copy.
    const at::Tensor P = at::mm(f[n].view({d.Ct, hw}).t(), W.t());
    const scalar_t* pp = P.const_data_ptr<scalar_t>();
    // One task = one output row (c, p): for each x, r contiguous values of patch row (c, i).
    at::parallel_for(0, d.C * H, grain_for(Wd), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t c = t / H, p = t % H, y = p / d.r, i = p % d.r;
        const int64_t o0 = (c * d.r + i) * d.r;
        scalar_t* orow = op + (n * d.C * H + t) * Wd;
        for (int64_t x = 0; x < d.w; ++x) {
          const scalar_t* src = pp + (y * d.w + x) * O + o0;
          scalar_t* dst = orow + x * d.r;
          for (int64_t j = 0; j < d.r; ++j) dst[j] = src[j] + bp[o0 + j];
        }
      }
    });
  }
}

template <typename scalar_t>
void forward_elementwise(const scalar_t* fp, const scalar_t* wp, const scalar_t* bp, scalar_t* op,
                         const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = d.H(), Wd = d.W();
  at::parallel_for(0, d.N * d.C * H, grain_for(Wd * d.Ct), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % H, nc = t / H, n = nc / d.C, c = nc % d.C;
      for (int64_t q = 0; q < Wd; ++q)
        op[t * Wd + q] = static_cast<scalar_t>(
            forward_elem<scalar_t, acc_t>(fp + n * d.Ct * d.h * d.w, wp, bp, d, c, p, q));
    }
  });
}

// ---- backward ----------------------------------------------------------------------------------

template <typename scalar_t>
void backward_gemm(const at::Tensor& go, const at::Tensor& f, const at::Tensor& W, at::Tensor& gf,
                   at::Tensor& gw, scalar_t* gbp, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, O = d.O(), H = d.H(), Wd = d.W(), M = d.N * hw;
  // G[n*hw + loc, o] = grad_out at the pixel that row o of location loc produced.
  at::Tensor G = at::empty({M, O}, go.options());
  at::Tensor Fp = at::empty({M, d.Ct}, f.options());  // features as rows of locations
  const scalar_t* gop = go.const_data_ptr<scalar_t>();
  const scalar_t* fp = f.const_data_ptr<scalar_t>();
  scalar_t* Gp = G.mutable_data_ptr<scalar_t>();
  scalar_t* Fpp = Fp.mutable_data_ptr<scalar_t>();
  at::parallel_for(0, M, grain_for(O), [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const int64_t n = m / hw, loc = m % hw, y = loc / d.w, x = loc % d.w;
      scalar_t* grow = Gp + m * O;
      for (int64_t c = 0; c < d.C; ++c)
        for (int64_t i = 0; i < d.r; ++i) {
          const scalar_t* src = gop + ((n * d.C + c) * H + y * d.r + i) * Wd + x * d.r;
          scalar_t* dst = grow + (c * d.r + i) * d.r;
          for (int64_t j = 0; j < d.r; ++j) dst[j] = src[j];
        }
      for (int64_t k = 0; k < d.Ct; ++k) Fpp[m * d.Ct + k] = fp[(n * d.Ct + k) * hw + loc];
    }
  });
  // grad W = G^T Fp (O x Ct); grad f rows = G W (M x Ct), written back channel-major.
  gw.copy_(at::mm(G.t(), Fp));
  const at::Tensor GF = at::mm(G, W);
  const scalar_t* gfr = GF.const_data_ptr<scalar_t>();
  scalar_t* gfp = gf.mutable_data_ptr<scalar_t>();
  at::parallel_for(0, d.N * d.Ct, grain_for(hw), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / d.Ct, k = t % d.Ct;
      for (int64_t loc = 0; loc < hw; ++loc) gfp[t * hw + loc] = gfr[(n * hw + loc) * d.Ct + k];
    }
  });
  // grad b: column sums of G in a fixed order.
  at::parallel_for(0, O, grain_for(M), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      acc_t acc = acc_t(0);
      for (int64_t m = 0; m < M; ++m) acc += static_cast<acc_t>(Gp[m * O + o]);
      gbp[o] = static_cast<scalar_t>(acc);
    }
  });
}

template <typename scalar_t>
void backward_elementwise(const scalar_t* gop, const scalar_t* fp, const scalar_t* wp,
                          scalar_t* gfp, scalar_t* gwp, scalar_t* gbp, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, CHW = d.C * d.H() * d.W();
  at::parallel_for(0, d.N * d.Ct * hw, grain_for(d.O()), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t loc = t % hw, nk = t / hw, n = nk / d.Ct, k = nk % d.Ct;
      gfp[t] = static_cast<scalar_t>(
          grad_f_elem<scalar_t, acc_t>(gop + n * CHW, wp, d, k, loc / d.w, loc % d.w));
    }
  });
  at::parallel_for(0, d.O(), grain_for(d.N * hw * (d.Ct + 1)), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      for (int64_t k = 0; k < d.Ct; ++k)
        gwp[o * d.Ct + k] = static_cast<scalar_t>(grad_w_elem<scalar_t, acc_t>(gop, fp, d, o, k));
      gbp[o] = static_cast<scalar_t>(grad_b_elem<scalar_t, acc_t>(gop, d, o));
    }
  });
}

}  // namespace

at::Tensor dupsample_cpu(const at::Tensor& features, const at::Tensor& weight,
                         const at::Tensor& bias, int64_t r) {
  contract::dupsample(features, weight, bias, r);
  const at::Tensor f = features.contiguous(), W = weight.contiguous(), b = bias.contiguous();
  const Dims d = make_dims(f, W, r);
  at::Tensor out = at::empty({d.N, d.C, d.H(), d.W()}, f.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "dupsample_cpu", [&] {
    if (cpu_elementwise() || d.Ct == 0) {
      forward_elementwise<scalar_t>(f.const_data_ptr<scalar_t>(), W.const_data_ptr<scalar_t>(),
                                    b.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), d);
    } else {
      forward_gemm<scalar_t>(f, W, b.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), d);
    }
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dupsample_backward_cpu(const at::Tensor& grad_out,
                                                                      const at::Tensor& features,
                                                                      const at::Tensor& weight,
                                                                      int64_t r) {
  contract::dupsample_backward(grad_out, features, weight, r);
  const at::Tensor f = features.contiguous(), W = weight.contiguous(), go = grad_out.contiguous();
  const Dims d = make_dims(f, W, r);
  at::Tensor gf = at::empty_like(f), gw = at::empty_like(W), gb = at::empty({W.size(0)}, W.options());
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "dupsample_backward_cpu", [&] {
    if (cpu_elementwise() || d.N * d.h * d.w == 0 || d.Ct == 0 || d.O() == 0) {
      backward_elementwise<scalar_t>(go.const_data_ptr<scalar_t>(), f.const_data_ptr<scalar_t>(),
                                     W.const_data_ptr<scalar_t>(), gf.mutable_data_ptr<scalar_t>(),
                                     gw.mutable_data_ptr<scalar_t>(), gb.mutable_data_ptr<scalar_t>(), d);
    } else {
      backward_gemm<scalar_t>(go, f, W, gf, gw, gb.mutable_data_ptr<scalar_t>(), d);
    }
  });
  return std::make_tuple(gf, gw, gb);
}

}  // namespace dupsample
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("dupsample", &upb::dupsample::dupsample_cpu);
  m.impl("_dupsample_backward", &upb::dupsample::dupsample_backward_cpu);
}
