// CUDA kernels for upbench::nrd_decode. No torch headers: compiled by `nvcc -c` on any machine.
// Forward and guidance gradient: one thread per high-res pixel, the cell's parameters read in
// place (stride h*w, never expanded per pixel). Parameter gradient: one thread per cell
// accumulating over its grid x grid pixels in a fixed order (no atomics, deterministic).
#include "../common/upb_cuda_utils.cuh"
#include "nrd_decode.h"
#include "nrd_decode_launch.h"

namespace upb {
namespace nrd {
namespace {

// High-res pixel idx of the (N, H, W) output: its sample n and pixel pix (within H*W), the MLP
// input z and hidden activations h1, h2 there; returns its cell's parameters (NCHW params, read
// in place with stride h*w).
template <typename scalar_t, typename acc_t>
__device__ inline const scalar_t* pixel_hidden(const scalar_t* __restrict__ th,
                                               const scalar_t* __restrict__ gd, const Dims& d,
                                               int64_t idx, int64_t& n, int64_t& pix, acc_t* z,
                                               acc_t* h1, acc_t* h2) {
  const int64_t W = d.W(), HW = d.H() * W, hw = d.h * d.w;
  n = idx / HW;
  pix = idx % HW;
  const int64_t Y = pix / W, X = pix % W;
  const scalar_t* cell = th + n * d.P() * hw + (Y / d.g) * d.w + X / d.g;
  load_input<scalar_t, acc_t>(gd + n * d.m * HW + pix, HW, d, Y % d.g, X % d.g, z);
  mlp_hidden<scalar_t, acc_t>(cell, hw, d, z, h1, h2);
  return cell;
}

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ th, const scalar_t* __restrict__ gd,
                               scalar_t* __restrict__ out, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H() * d.W(), hw = d.h * d.w;
  acc_t z[kMaxInput], h1[kMaxHidden], h2[kMaxHidden];
  UPB_GRID_STRIDE(idx, d.N * HW) {
    int64_t n, pix;
    const scalar_t* cell = pixel_hidden<scalar_t, acc_t>(th, gd, d, idx, n, pix, z, h1, h2);
    for (int64_t k = 0; k < d.K; ++k)
      out[(n * d.K + k) * HW + pix] = store<scalar_t>(mlp_out<scalar_t, acc_t>(cell, hw, d, h2, k));
  }
}

template <typename scalar_t>
__global__ void grad_guidance_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ th,
                                     const scalar_t* __restrict__ gd, scalar_t* __restrict__ ggd,
                                     Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H() * d.W(), hw = d.h * d.w;
  acc_t z[kMaxInput], h1[kMaxHidden], h2[kMaxHidden], dh1[kMaxHidden], dh2[kMaxHidden];
  UPB_GRID_STRIDE(idx, d.N * HW) {
    int64_t n, pix;
    const scalar_t* cell = pixel_hidden<scalar_t, acc_t>(th, gd, d, idx, n, pix, z, h1, h2);
    mlp_backprop<scalar_t, acc_t>(cell, hw, d, go + n * d.K * HW + pix, HW, h1, h2, dh1, dh2);
    for (int64_t c = 0; c < d.m; ++c)
      ggd[(n * d.m + c) * HW + pix] = store<scalar_t>(grad_guidance<scalar_t, acc_t>(cell, hw, d, dh1, c));
  }
}

template <typename scalar_t>
__global__ void grad_params_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ th,
                                   const scalar_t* __restrict__ gd, scalar_t* __restrict__ gth,
                                   Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = d.H(), W = d.W(), HW = H * W, hw = d.h * d.w, P = d.P();
  acc_t z[kMaxInput], h1[kMaxHidden], h2[kMaxHidden], dh1[kMaxHidden], dh2[kMaxHidden];
  UPB_GRID_STRIDE(idx, d.N * hw) {
    const int64_t n = idx / hw, c = idx % hw, y = c / d.w, x = c % d.w;
    const scalar_t* cell = th + n * P * hw + c;
    scalar_t* gcell = gth + n * P * hw + c;
    for (int64_t p = 0; p < P; ++p) gcell[p * hw] = store<scalar_t>(0.0f);
    for (int64_t u = 0; u < d.g; ++u)
      for (int64_t v = 0; v < d.g; ++v) {
        const int64_t pix = (y * d.g + u) * W + x * d.g + v;
        const scalar_t* gpix = go + n * d.K * HW + pix;
        load_input<scalar_t, acc_t>(gd + n * d.m * HW + pix, HW, d, u, v, z);
        mlp_hidden<scalar_t, acc_t>(cell, hw, d, z, h1, h2);
        mlp_backprop<scalar_t, acc_t>(cell, hw, d, gpix, HW, h1, h2, dh1, dh2);
        for (int64_t p = 0; p < P; ++p) {
          const acc_t t = grad_param_term<scalar_t, acc_t>(d, p, z, h1, h2, dh1, dh2, gpix, HW);
          gcell[p * hw] = store<scalar_t>(load<acc_t>(gcell[p * hw]) + t);
        }
      }
  }
}

}  // namespace

cudaError_t launch_forward(const void* params, const void* guidance, void* out, int64_t N,
                           int64_t h, int64_t w, int64_t m, int64_t K, int64_t hidden,
                           int64_t grid, bool coords, DType dtype, cudaStream_t stream) {
  const Dims d{N, h, w, m, K, hidden, grid, coords};
  const int64_t total = N * d.H() * d.W();
  if (total == 0 || K == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(params), static_cast<const scalar_t*>(guidance),
        static_cast<scalar_t*>(out), d);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const void* params, const void* guidance,
                            void* grad_params, void* grad_guidance, int64_t N, int64_t h,
                            int64_t w, int64_t m, int64_t K, int64_t hidden, int64_t grid,
                            bool coords, DType dtype, cudaStream_t stream) {
  const Dims d{N, h, w, m, K, hidden, grid, coords};
  const int64_t npix = N * d.H() * d.W(), ncell = N * h * w;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    if (npix > 0 && m > 0) {
      grad_guidance_kernel<scalar_t><<<blocks_for(npix), kThreads, 0, stream>>>(
          static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(params),
          static_cast<const scalar_t*>(guidance), static_cast<scalar_t*>(grad_guidance), d);
      cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) return err;
    }
    if (ncell > 0) {
      grad_params_kernel<scalar_t><<<blocks_for(ncell), kThreads, 0, stream>>>(
          static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(params),
          static_cast<const scalar_t*>(guidance), static_cast<scalar_t*>(grad_params), d);
    }
    return cudaGetLastError();
  });
}

}  // namespace nrd
}  // namespace upb
