// CUDA kernels for upbench::pyramid_fuse. No torch headers: compiled by `nvcc -c` on any machine.
// Forward: one thread per finest pixel (level choice, then K copies). Backward: one thread per
// element of each level's gradient, gathering its cell's pixels (no atomics, deterministic).
#include "../common/upb_cuda_utils.cuh"
#include "pyramid_fuse.h"
#include "pyramid_fuse_launch.h"

namespace upb {
namespace pyramid_fuse {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(Pyramid<scalar_t> p, float tau_f, double tau_d,
                               scalar_t* __restrict__ out, int64_t* __restrict__ level) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = p.H(), W = p.W(), HW = H * W;
  // tau rounded to the input dtype, as a tensor >= python-scalar comparison does
  const acc_t tau = sizeof(acc_t) == sizeof(double)
                        ? load<acc_t>(tau_d)
                        : load<acc_t>(store<scalar_t>(tau_f));
  UPB_GRID_STRIDE(idx, p.N * HW) {
    const int64_t n = idx / HW, Y = (idx % HW) / W, X = idx % W;
    const int l = choose_level<scalar_t, acc_t>(p, tau, n, Y, X);
    level[idx] = l;
    for (int64_t k = 0; k < p.K; ++k)
      out[(n * p.K + k) * HW + Y * W + X] = fused_value<scalar_t>(p, l, n, k, Y, X);
  }
}

template <typename scalar_t>
__global__ void backward_kernel(const scalar_t* __restrict__ go, const int64_t* __restrict__ level,
                                int L, int l, int64_t N, int64_t K, int64_t H, int64_t W,
                                scalar_t* __restrict__ grad) {
  using acc_t = typename AccType<scalar_t>::type;
  const int s = L - 1 - l;
  const int64_t hl = H >> s, wl = W >> s;
  UPB_GRID_STRIDE(idx, N * K * hl * wl) {
    const int64_t x = idx % wl, y = (idx / wl) % hl, nk = idx / (wl * hl);
    grad[idx] = store<scalar_t>(
        grad_elem<scalar_t, acc_t>(go, level, L, N, K, H, W, l, nk / K, nk % K, y, x));
  }
}

}  // namespace

cudaError_t launch_forward(const void* const* sem, const void* const* uni, int L, int64_t N,
                           int64_t K, int64_t h0, int64_t w0, double tau, void* out,
                           int64_t* level, DType dtype, cudaStream_t stream) {
  if (L < 1 || L > kMaxLevels) return cudaErrorInvalidValue;
  const int64_t total = N * (h0 << (L - 1)) * (w0 << (L - 1));
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    Pyramid<scalar_t> p{};
    p.L = L;
    p.N = N;
    p.K = K;
    p.h0 = h0;
    p.w0 = w0;
    for (int l = 0; l < L; ++l) {
      p.sem[l] = static_cast<const scalar_t*>(sem[l]);
      p.uni[l] = l < L - 1 ? static_cast<const scalar_t*>(uni[l]) : nullptr;
    }
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        p, static_cast<float>(tau), tau, static_cast<scalar_t*>(out), level);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const int64_t* level, int L, int64_t N,
                            int64_t K, int64_t H, int64_t W, void* const* grads, DType dtype,
                            cudaStream_t stream) {
  return UPB_DISPATCH_CUDA(dtype, [&] {
    for (int l = 0; l < L; ++l) {
      const int s = L - 1 - l;
      const int64_t total = N * K * (H >> s) * (W >> s);
      if (total == 0) continue;
      backward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
          static_cast<const scalar_t*>(grad_out), level, L, l, N, K, H, W,
          static_cast<scalar_t*>(grads[l]));
      cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
  });
}

}  // namespace pyramid_fuse
}  // namespace upb
