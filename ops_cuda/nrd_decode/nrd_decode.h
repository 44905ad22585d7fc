// NRD (Zhang et al., NeurIPS 2021): per-cell dynamic MLPs evaluated on a grid x grid lattice.
//
// params (N, P, h, w) holds, per low-res cell (y, x), the parameters of the MLP
//   g(z) = W3 relu(W2 relu(W1 z + b1) + b2) + b3,   z in R^D0,  hidden d,  K outputs,
// laid out as [W1 (d x D0, row-major), W2 (d x d), W3 (K x d), b1 (d), b2 (d), b3 (K)], so
// P = D0*d + d*d + K*d + d + d + K (899 for D0 = 2 + 16, d = 16, K = 19).
// The output pixel (n, k, y*g + u, x*g + v) evaluates the MLP of cell (y, x) on
//   z = [v/g, u/g (when coords), guidance[n, :, y*g + u, x*g + v]]
// (coordinates in [0, 1) per cell, x = column first, as the paper's (x, y) maps).
// No per-pixel weight map is ever materialised: every function reads the cell's parameters
// through a pointer and a stride (h*w for NCHW params, 1 for a cell-major copy).
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace nrd {

constexpr int kMaxHidden = 64;
constexpr int kMaxInput = 130;  // 2 coordinates + up to 128 guidance channels

struct Dims {
  int64_t N, h, w;  // batch and cells
  int64_t m;        // guidance channels
  int64_t K, d;     // classes, hidden width
  int64_t g;        // grid points per cell side
  bool coords;      // whether z starts with the two coordinates
  UPB_HOST_DEVICE int64_t D0() const { return (coords ? 2 : 0) + m; }
  UPB_HOST_DEVICE int64_t P() const { return D0() * d + d * d + K * d + d + d + K; }
  UPB_HOST_DEVICE int64_t H() const { return h * g; }
  UPB_HOST_DEVICE int64_t W() const { return w * g; }
  // offsets of the parameter blocks
  UPB_HOST_DEVICE int64_t oW2() const { return D0() * d; }
  UPB_HOST_DEVICE int64_t oW3() const { return oW2() + d * d; }
  UPB_HOST_DEVICE int64_t ob1() const { return oW3() + K * d; }
  UPB_HOST_DEVICE int64_t ob2() const { return ob1() + d; }
  UPB_HOST_DEVICE int64_t ob3() const { return ob2() + d; }
};

// Dims of a call from its params (N, P, h, w) and guidance (N, m, H, W): the CPU and CUDA
// bindings both build them here (Tensor = at::Tensor; a template so this header stays torch-free).
template <typename Tensor>
inline Dims dims_of(const Tensor& params, const Tensor& guidance, int64_t K, int64_t hidden,
                    int64_t grid, bool coords) {
  return Dims{params.size(0), params.size(2), params.size(3), guidance.size(1), K, hidden, grid,
              coords};
}

// z for pixel (u, v) of its cell; gpix points at guidance[n, 0, Y, X], channel stride gs = H*W.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void load_input(const scalar_t* __restrict__ gpix, int64_t gs, const Dims& d,
                                       int64_t u, int64_t v, acc_t* __restrict__ z) {
  int64_t o = 0;
  if (d.coords) {
    z[0] = load<acc_t>(v) / load<acc_t>(d.g);
    z[1] = load<acc_t>(u) / load<acc_t>(d.g);
    o = 2;
  }
  for (int64_t c = 0; c < d.m; ++c) z[o + c] = load<acc_t>(gpix[c * gs]);
}

// Hidden activations h1, h2 (post-ReLU) of one pixel; th = the cell's parameters, stride ts.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void mlp_hidden(const scalar_t* __restrict__ th, int64_t ts, const Dims& d,
                                       const acc_t* __restrict__ z, acc_t* __restrict__ h1,
                                       acc_t* __restrict__ h2) {
  const int64_t D0 = d.D0();
  for (int64_t i = 0; i < d.d; ++i) {
    acc_t a = load<acc_t>(th[(d.ob1() + i) * ts]);
    for (int64_t c = 0; c < D0; ++c) a += load<acc_t>(th[(i * D0 + c) * ts]) * z[c];
    h1[i] = a < acc_t(0) ? acc_t(0) : a;  // ReLU that keeps NaN (as torch.relu)
  }
  for (int64_t i = 0; i < d.d; ++i) {
    acc_t a = load<acc_t>(th[(d.ob2() + i) * ts]);
    for (int64_t j = 0; j < d.d; ++j) a += load<acc_t>(th[(d.oW2() + i * d.d + j) * ts]) * h1[j];
    h2[i] = a < acc_t(0) ? acc_t(0) : a;  // ReLU that keeps NaN (as torch.relu)
  }
}

// Output logit k of one pixel from its h2.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t mlp_out(const scalar_t* __restrict__ th, int64_t ts, const Dims& d,
                                     const acc_t* __restrict__ h2, int64_t k) {
  acc_t a = load<acc_t>(th[(d.ob3() + k) * ts]);
  for (int64_t j = 0; j < d.d; ++j) a += load<acc_t>(th[(d.oW3() + k * d.d + j) * ts]) * h2[j];
  return a;
}

// Back-propagates one pixel's output gradient go[k * gos] through its MLP: fills dh2, dh1
// (gradients of the pre-activations) from h1, h2.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void mlp_backprop(const scalar_t* __restrict__ th, int64_t ts, const Dims& d,
                                         const scalar_t* __restrict__ go, int64_t gos,
                                         const acc_t* __restrict__ h1, const acc_t* __restrict__ h2,
                                         acc_t* __restrict__ dh1, acc_t* __restrict__ dh2) {
  for (int64_t j = 0; j < d.d; ++j) {
    acc_t a = acc_t(0);
    if (h2[j] > acc_t(0))
      for (int64_t k = 0; k < d.K; ++k)
        a += load<acc_t>(th[(d.oW3() + k * d.d + j) * ts]) * load<acc_t>(go[k * gos]);
    dh2[j] = a;
  }
  for (int64_t i = 0; i < d.d; ++i) {
    acc_t a = acc_t(0);
    if (h1[i] > acc_t(0))
      for (int64_t j = 0; j < d.d; ++j) a += load<acc_t>(th[(d.oW2() + j * d.d + i) * ts]) * dh2[j];
    dh1[i] = a;
  }
}

// Gradient w.r.t. guidance channel c of the pixel: sum_i W1[i, off + c] * dh1[i].
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_guidance(const scalar_t* __restrict__ th, int64_t ts,
                                           const Dims& d, const acc_t* __restrict__ dh1, int64_t c) {
  const int64_t D0 = d.D0(), col = (d.coords ? 2 : 0) + c;
  acc_t a = acc_t(0);
  for (int64_t i = 0; i < d.d; ++i) a += load<acc_t>(th[(i * D0 + col) * ts]) * dh1[i];
  return a;
}

// One pixel's contribution to the gradient of parameter p of its cell.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_param_term(const Dims& d, int64_t p, const acc_t* __restrict__ z,
                                             const acc_t* __restrict__ h1,
                                             const acc_t* __restrict__ h2,
                                             const acc_t* __restrict__ dh1,
                                             const acc_t* __restrict__ dh2,
                                             const scalar_t* __restrict__ go, int64_t gos) {
  const int64_t D0 = d.D0();
  if (p < d.oW2()) return dh1[p / D0] * z[p % D0];
  if (p < d.oW3()) { const int64_t q = p - d.oW2(); return dh2[q / d.d] * h1[q % d.d]; }
  if (p < d.ob1()) {
    const int64_t q = p - d.oW3();
    return load<acc_t>(go[(q / d.d) * gos]) * h2[q % d.d];
  }
  if (p < d.ob2()) return dh1[p - d.ob1()];
  if (p < d.ob3()) return dh2[p - d.ob2()];
  return load<acc_t>(go[(p - d.ob3()) * gos]);
}

}  // namespace nrd
}  // namespace upb
