// CPU kernels for upbench::nrd_decode.
//
// One task = one low-res cell: its parameters are copied once into a cell-major buffer (stride 1).
// Forward: the default path evaluates the cell's MLP on all grid x grid pixels at once, layer by
// layer with the pixel index innermost (forward_cells_fast); the elementwise path
// (cpu_kernel_mode 1, used by the tests) evaluates pixel by pixel with the header functions the
// CUDA kernels call (load_input / mlp_hidden / mlp_out); likewise the backward
// (backward_cells_fast vs mlp_backprop / grad_guidance / grad_param_term). The backward
// accumulates each cell's parameter gradient over its own pixels in a fixed order (every pixel
// belongs to exactly one cell): no atomics, deterministic.
#include <algorithm>
#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_contract.h"
#include "nrd_decode.h"

namespace upb {
namespace nrd {
namespace {

// params (N, P, h, w) -> cell-major copy (N*h*w, P).
template <typename scalar_t>
void to_cell_major(const scalar_t* src, scalar_t* dst, const Dims& d) {
  const int64_t hw = d.h * d.w, P = d.P();
  at::parallel_for(0, d.N * hw, grain_for(P), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / hw, cell = t % hw;
      for (int64_t p = 0; p < P; ++p) dst[t * P + p] = src[(n * P + p) * hw + cell];
    }
  });
}

template <typename scalar_t>
void forward_cells(const scalar_t* th_all, const scalar_t* gp, scalar_t* op, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, P = d.P(), H = d.H(), W = d.W(), HW = H * W;
  at::parallel_for(0, d.N * hw, grain_for(d.g * d.g * P), [&](int64_t begin, int64_t end) {
    acc_t z[kMaxInput], h1[kMaxHidden], h2[kMaxHidden];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / hw, y = (t % hw) / d.w, x = t % d.w;
      const scalar_t* th = th_all + t * P;
      for (int64_t u = 0; u < d.g; ++u)
        for (int64_t v = 0; v < d.g; ++v) {
          const int64_t pix = (y * d.g + u) * W + x * d.g + v;
          load_input<scalar_t, acc_t>(gp + n * d.m * HW + pix, HW, d, u, v, z);
          mlp_hidden<scalar_t, acc_t>(th, 1, d, z, h1, h2);
          for (int64_t k = 0; k < d.K; ++k)
            op[(n * d.K + k) * HW + pix] = static_cast<scalar_t>(mlp_out<scalar_t, acc_t>(th, 1, d, h2, k));
        }
    }
  });
}

// One dense layer over a block of G pixels (pixel index innermost, contiguous and vectorisable):
// out[i*G + px] = b[i] + sum_c Wt[i*ins + c] * in[c*G + px], then ReLU when relu (the ReLU keeps
// NaN, as torch.relu). Same sums, in the same order, as mlp_hidden / mlp_out.
template <typename scalar_t, typename acc_t>
inline void dense_block(const scalar_t* Wt, const scalar_t* b, int64_t outs, int64_t ins, int64_t G,
                        const acc_t* __restrict__ in, acc_t* __restrict__ out, bool relu) {
  for (int64_t i = 0; i < outs; ++i) {
    acc_t* orow = out + i * G;
    const acc_t bi = static_cast<acc_t>(b[i]);
    for (int64_t px = 0; px < G; ++px) orow[px] = bi;
    for (int64_t c = 0; c < ins; ++c) {
      const acc_t wv = static_cast<acc_t>(Wt[i * ins + c]);
      const acc_t* irow = in + c * G;
      for (int64_t px = 0; px < G; ++px) orow[px] += wv * irow[px];
    }
    if (relu)
      for (int64_t px = 0; px < G; ++px) orow[px] = orow[px] < acc_t(0) ? acc_t(0) : orow[px];
  }
}

// The MLP inputs of all g*g pixels of cell (n, y, x), pixel-contiguous: z[c*G + u*g + v] is
// load_input's z[c] for pixel (u, v) (the two coordinates first when d.coords, then guidance).
template <typename scalar_t, typename acc_t>
inline void load_cell_inputs(const scalar_t* gp, const Dims& d, int64_t n, int64_t y, int64_t x,
                             acc_t* __restrict__ z) {
  const int64_t G = d.g * d.g, H = d.H(), W = d.W(), c0 = d.coords ? 2 : 0;
  if (d.coords)
    for (int64_t u = 0; u < d.g; ++u)
      for (int64_t v = 0; v < d.g; ++v) {
        z[u * d.g + v] = static_cast<acc_t>(v) / static_cast<acc_t>(d.g);
        z[G + u * d.g + v] = static_cast<acc_t>(u) / static_cast<acc_t>(d.g);
      }
  for (int64_t c = 0; c < d.m; ++c)
    for (int64_t u = 0; u < d.g; ++u) {
      const scalar_t* src = gp + ((n * d.m + c) * H + y * d.g + u) * W + x * d.g;
      acc_t* dst = z + (c0 + c) * G + u * d.g;
      for (int64_t v = 0; v < d.g; ++v) dst[v] = static_cast<acc_t>(src[v]);
    }
}

// Fast forward: all g*g pixels of a cell at once, each layer as a small matrix product with the
// pixel index innermost (contiguous, vectorisable). Same sums as mlp_hidden / mlp_out.
template <typename scalar_t>
void forward_cells_fast(const scalar_t* th_all, const scalar_t* gp, scalar_t* op, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, P = d.P(), H = d.H(), W = d.W(), HW = H * W;
  const int64_t G = d.g * d.g, D0 = d.D0(), dd = d.d;
  at::parallel_for(0, d.N * hw, grain_for(G * P), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> z(D0 * G), h1(dd * G), h2(dd * G), o(d.K * G);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / hw, y = (t % hw) / d.w, x = t % d.w;
      const scalar_t* th = th_all + t * P;
      load_cell_inputs(gp, d, n, y, x, z.data());
      dense_block(th, th + d.ob1(), dd, D0, G, z.data(), h1.data(), true);
      dense_block(th + d.oW2(), th + d.ob2(), dd, dd, G, h1.data(), h2.data(), true);
      dense_block(th + d.oW3(), th + d.ob3(), d.K, dd, G, h2.data(), o.data(), false);
      for (int64_t k = 0; k < d.K; ++k)
        for (int64_t u = 0; u < d.g; ++u) {
          scalar_t* dst = op + ((n * d.K + k) * H + y * d.g + u) * W + x * d.g;
          const acc_t* src = o.data() + k * G + u * d.g;
          for (int64_t v = 0; v < d.g; ++v) dst[v] = static_cast<scalar_t>(src[v]);
        }
    }
  });
}

template <typename scalar_t>
void backward_cells(const scalar_t* gop, const scalar_t* th_all, const scalar_t* gp,
                    scalar_t* gth, scalar_t* ggp, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, P = d.P(), H = d.H(), W = d.W(), HW = H * W;
  at::parallel_for(0, d.N * hw, grain_for(d.g * d.g * P), [&](int64_t begin, int64_t end) {
    acc_t z[kMaxInput], h1[kMaxHidden], h2[kMaxHidden], dh1[kMaxHidden], dh2[kMaxHidden];
    std::vector<acc_t> acc(P);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / hw, cell = t % hw, y = cell / d.w, x = cell % d.w;
      const scalar_t* th = th_all + t * P;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t u = 0; u < d.g; ++u)
        for (int64_t v = 0; v < d.g; ++v) {
          const int64_t pix = (y * d.g + u) * W + x * d.g + v;
          const scalar_t* go = gop + n * d.K * HW + pix;
          load_input<scalar_t, acc_t>(gp + n * d.m * HW + pix, HW, d, u, v, z);
          mlp_hidden<scalar_t, acc_t>(th, 1, d, z, h1, h2);
          mlp_backprop<scalar_t, acc_t>(th, 1, d, go, HW, h1, h2, dh1, dh2);
          for (int64_t c = 0; c < d.m; ++c)
            ggp[(n * d.m + c) * HW + pix] = static_cast<scalar_t>(grad_guidance<scalar_t, acc_t>(th, 1, d, dh1, c));
          for (int64_t p = 0; p < P; ++p)
            acc[p] += grad_param_term<scalar_t, acc_t>(d, p, z, h1, h2, dh1, dh2, go, HW);
        }
      for (int64_t p = 0; p < P; ++p) gth[(n * P + p) * hw + cell] = static_cast<scalar_t>(acc[p]);
    }
  });
}

// Fast backward: the cell's g*g pixels at once, same sums as the header's mlp_backprop /
// grad_guidance / grad_param_term. Layer products keep the pixel index innermost; parameter
// gradients are rank-1 updates per pixel over pixel-major copies (contiguous inner loops, no
// floating-point reductions), pixels in a fixed order: deterministic.
template <typename scalar_t>
void backward_cells_fast(const scalar_t* gop, const scalar_t* th_all, const scalar_t* gp,
                         scalar_t* gth, scalar_t* ggp, const Dims& d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t hw = d.h * d.w, P = d.P(), H = d.H(), W = d.W();
  const int64_t G = d.g * d.g, D0 = d.D0(), dd = d.d, K = d.K, c0 = d.coords ? 2 : 0;
  at::parallel_for(0, d.N * hw, grain_for(3 * G * P), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> z(D0 * G), h1(dd * G), h2(dd * G), go(K * G), dh1(dd * G), dh2(dd * G),
        gz(G), acc(P), zT(G * D0), h1T(G * dd), h2T(G * dd);
    auto transpose = [G](const acc_t* src, int64_t rows, acc_t* dst) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t px = 0; px < G; ++px) dst[px * rows + r] = src[r * G + px];
    };
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / hw, cell = t % hw, y = cell / d.w, x = cell % d.w;
      const scalar_t* th = th_all + t * P;
      // the cell's inputs and output gradients, pixel-contiguous
      load_cell_inputs(gp, d, n, y, x, z.data());
      for (int64_t k = 0; k < K; ++k)
        for (int64_t u = 0; u < d.g; ++u) {
          const scalar_t* src = gop + ((n * K + k) * H + y * d.g + u) * W + x * d.g;
          for (int64_t v = 0; v < d.g; ++v) go[k * G + u * d.g + v] = static_cast<acc_t>(src[v]);
        }
      // forward (post-ReLU activations)
      dense_block(th, th + d.ob1(), dd, D0, G, z.data(), h1.data(), true);
      dense_block(th + d.oW2(), th + d.ob2(), dd, dd, G, h1.data(), h2.data(), true);
      // dh2 = relu'(h2) * W3^T go ; dh1 = relu'(h1) * W2^T dh2
      std::fill(dh2.begin(), dh2.end(), acc_t(0));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < dd; ++j) {
          const acc_t wv = static_cast<acc_t>(th[d.oW3() + k * dd + j]);
          for (int64_t px = 0; px < G; ++px) dh2[j * G + px] += wv * go[k * G + px];
        }
      for (int64_t i = 0; i < dd * G; ++i)
        if (!(h2[i] > acc_t(0))) dh2[i] = acc_t(0);
      std::fill(dh1.begin(), dh1.end(), acc_t(0));
      for (int64_t j = 0; j < dd; ++j)
        for (int64_t i = 0; i < dd; ++i) {
          const acc_t wv = static_cast<acc_t>(th[d.oW2() + j * dd + i]);
          for (int64_t px = 0; px < G; ++px) dh1[i * G + px] += wv * dh2[j * G + px];
        }
      for (int64_t i = 0; i < dd * G; ++i)
        if (!(h1[i] > acc_t(0))) dh1[i] = acc_t(0);
      // guidance gradient: W1[:, c0 + c]^T dh1
      for (int64_t c = 0; c < d.m; ++c) {
        std::fill(gz.begin(), gz.end(), acc_t(0));
        for (int64_t i = 0; i < dd; ++i) {
          const acc_t wv = static_cast<acc_t>(th[i * D0 + c0 + c]);
          for (int64_t px = 0; px < G; ++px) gz[px] += wv * dh1[i * G + px];
        }
        for (int64_t u = 0; u < d.g; ++u) {
          scalar_t* dst = ggp + ((n * d.m + c) * H + y * d.g + u) * W + x * d.g;
          for (int64_t v = 0; v < d.g; ++v) dst[v] = static_cast<scalar_t>(gz[u * d.g + v]);
        }
      }
      // parameter gradients
      transpose(z.data(), D0, zT.data());
      transpose(h1.data(), dd, h1T.data());
      transpose(h2.data(), dd, h2T.data());
      std::fill(acc.begin(), acc.end(), acc_t(0));
      acc_t* gW1 = acc.data();
      acc_t* gW2 = acc.data() + d.oW2();
      acc_t* gW3 = acc.data() + d.oW3();
      acc_t* gb1 = acc.data() + d.ob1();
      acc_t* gb2 = acc.data() + d.ob2();
      acc_t* gb3 = acc.data() + d.ob3();
      for (int64_t px = 0; px < G; ++px) {
        const acc_t* zp = zT.data() + px * D0;
        const acc_t* h1p = h1T.data() + px * dd;
        const acc_t* h2p = h2T.data() + px * dd;
        for (int64_t i = 0; i < dd; ++i) {
          const acc_t a = dh1[i * G + px];
          gb1[i] += a;
          for (int64_t c = 0; c < D0; ++c) gW1[i * D0 + c] += a * zp[c];
        }
        for (int64_t j = 0; j < dd; ++j) {
          const acc_t a = dh2[j * G + px];
          gb2[j] += a;
          for (int64_t i = 0; i < dd; ++i) gW2[j * dd + i] += a * h1p[i];
        }
        for (int64_t k = 0; k < K; ++k) {
          const acc_t a = go[k * G + px];
          gb3[k] += a;
          for (int64_t j = 0; j < dd; ++j) gW3[k * dd + j] += a * h2p[j];
        }
      }
      for (int64_t p = 0; p < P; ++p) gth[(n * P + p) * hw + cell] = static_cast<scalar_t>(acc[p]);
    }
  });
}

}  // namespace

at::Tensor nrd_decode_cpu(const at::Tensor& params, const at::Tensor& guidance, int64_t K,
                          int64_t hidden, int64_t grid, bool coords) {
  contract::nrd_decode(params, guidance, K, hidden, grid, coords);
  const Dims d = dims_of(params, guidance, K, hidden, grid, coords);
  const at::Tensor th = params.contiguous(), gd = guidance.contiguous();
  at::Tensor out = at::empty({d.N, K, d.H(), d.W()}, th.options());
  if (out.numel() == 0) return out;
  at::Tensor cm = at::empty({d.N * d.h * d.w, d.P()}, th.options());
  AT_DISPATCH_FLOATING_TYPES(th.scalar_type(), "nrd_decode_cpu", [&] {
    to_cell_major<scalar_t>(th.const_data_ptr<scalar_t>(), cm.mutable_data_ptr<scalar_t>(), d);
    auto fn = cpu_elementwise() ? forward_cells<scalar_t> : forward_cells_fast<scalar_t>;
    fn(cm.const_data_ptr<scalar_t>(), gd.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), d);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> nrd_decode_backward_cpu(const at::Tensor& grad_out,
                                                           const at::Tensor& params,
                                                           const at::Tensor& guidance, int64_t K,
                                                           int64_t hidden, int64_t grid,
                                                           bool coords) {
  contract::nrd_decode_backward(grad_out, params, guidance, K, hidden, grid, coords);
  const Dims d = dims_of(params, guidance, K, hidden, grid, coords);
  const at::Tensor th = params.contiguous(), gd = guidance.contiguous(), go = grad_out.contiguous();
  at::Tensor gth = at::zeros(th.sizes(), th.options()), ggd = at::zeros(gd.sizes(), gd.options());
  if (go.numel() == 0) return std::make_tuple(gth, ggd);
  at::Tensor cm = at::empty({d.N * d.h * d.w, d.P()}, th.options());
  AT_DISPATCH_FLOATING_TYPES(th.scalar_type(), "nrd_decode_backward_cpu", [&] {
    to_cell_major<scalar_t>(th.const_data_ptr<scalar_t>(), cm.mutable_data_ptr<scalar_t>(), d);
    auto fn = cpu_elementwise() ? backward_cells<scalar_t> : backward_cells_fast<scalar_t>;
    fn(go.const_data_ptr<scalar_t>(), cm.const_data_ptr<scalar_t>(), gd.const_data_ptr<scalar_t>(),
       gth.mutable_data_ptr<scalar_t>(), ggd.mutable_data_ptr<scalar_t>(), d);
  });
  return std::make_tuple(gth, ggd);
}

}  // namespace nrd
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("nrd_decode", &upb::nrd::nrd_decode_cpu);
  m.impl("_nrd_decode_backward", &upb::nrd::nrd_decode_backward_cpu);
}
