// CUDA kernels for upbench::carafe. No torch headers: compiled by `nvcc -c` on any machine.
// One thread per output element, grid-stride loops, math from carafe.h. The backward is a gather
// (one thread per gradient element, no atomics), so it is deterministic like the CPU one.
#include "../common/upb_cuda_utils.cuh"
#include "carafe.h"
#include "carafe_launch.h"

namespace upb {
namespace carafe {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ m,
                               scalar_t* __restrict__ out, int64_t N, int64_t C, int G, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = N * C * d.H * d.W;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, Cg = C / G;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % d.W, p = (idx / d.W) % d.H, nc = idx / (d.W * d.H);
    const int64_t n = nc / C, c = nc % C;
    const scalar_t* mblock = m + (n * G + c / Cg) * KK * d.H * d.W;
    out[idx] = store<scalar_t>(forward_elem<scalar_t, acc_t>(x + nc * d.h * d.w, mblock, d, p, q));
  }
}

template <typename scalar_t>
__global__ void grad_x_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ m,
                              scalar_t* __restrict__ gx, int64_t N, int64_t C, int G, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = N * C * d.h * d.w;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, Cg = C / G;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t xx = idx % d.w, y = (idx / d.w) % d.h, nc = idx / (d.w * d.h);
    const int64_t n = nc / C, c = nc % C;
    const scalar_t* mblock = m + (n * G + c / Cg) * KK * d.H * d.W;
    gx[idx] = store<scalar_t>(grad_x_elem<scalar_t, acc_t>(go + nc * d.H * d.W, mblock, d, y, xx));
  }
}

template <typename scalar_t>
__global__ void grad_mask_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ x,
                                 scalar_t* __restrict__ gm, int64_t N, int64_t C, int G, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, Cg = C / G;
  const int64_t total = N * G * KK * d.H * d.W;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % d.W, p = (idx / d.W) % d.H;
    const int64_t tap = (idx / (d.W * d.H)) % KK, ng = idx / (d.W * d.H * KK);
    const int64_t n = ng / G, g = ng % G;
    const int i = static_cast<int>(tap / d.K), j = static_cast<int>(tap % d.K);
    acc_t acc = acc_t(0);
    for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
      acc += grad_mask_term<scalar_t, acc_t>(go + (n * C + c) * d.H * d.W,
                                             x + (n * C + c) * d.h * d.w, d, i, j, p, q);
    }
    gm[idx] = store<scalar_t>(acc);
  }
}

}  // namespace

cudaError_t launch_forward(const void* x, const void* masks, void* out, int64_t N, int64_t C,
                           int64_t h, int64_t w, int K, int G, int s, DType dtype,
                           cudaStream_t stream) {
  const Dims d{h, w, h * s, w * s, K, s};
  const int64_t total = N * C * d.H * d.W;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(x), static_cast<const scalar_t*>(masks),
        static_cast<scalar_t*>(out), N, C, G, d);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const void* x, const void* masks, void* grad_x,
                            void* grad_masks, int64_t N, int64_t C, int64_t h, int64_t w, int K,
                            int G, int s, DType dtype, cudaStream_t stream) {
  const Dims d{h, w, h * s, w * s, K, s};
  const int64_t nx = N * C * h * w, nm = N * G * static_cast<int64_t>(K) * K * d.H * d.W;
  if (nx == 0 || nm == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    grad_x_kernel<scalar_t><<<blocks_for(nx), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(masks),
        static_cast<scalar_t*>(grad_x), N, C, G, d);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    grad_mask_kernel<scalar_t><<<blocks_for(nm), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(x),
        static_cast<scalar_t*>(grad_masks), N, C, G, d);
    return cudaGetLastError();
  });
}

}  // namespace carafe
}  // namespace upb
