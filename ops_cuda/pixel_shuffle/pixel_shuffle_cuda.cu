// CUDA kernels for upbench::pixel_shuffle (no torch headers): one thread per element, gathers.
#include "../common/upb_cuda_utils.cuh"
#include "pixel_shuffle.h"
#include "pixel_shuffle_launch.h"

namespace upb {
namespace pixel_shuffle {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                               int64_t N, int64_t C, int64_t h, int64_t w, int s) {
  const int64_t H = h * s, W = w * s, total = N * C * H * W;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t ow = idx % W, oh = (idx / W) % H, c = (idx / (W * H)) % C, n = idx / (W * H * C);
    out[idx] = x[source_of_output(n, c, oh, ow, C, h, w, s)];
  }
}

template <typename scalar_t>
__global__ void backward_kernel(const scalar_t* __restrict__ g, scalar_t* __restrict__ gx,
                                int64_t N, int64_t C, int64_t h, int64_t w, int s) {
  const int64_t Ci = C * s * s, total = N * Ci * h * w;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t x = idx % w, y = (idx / w) % h, ci = (idx / (w * h)) % Ci, n = idx / (w * h * Ci);
    gx[idx] = g[output_of_source(n, ci, y, x, C, h, w, s)];
  }
}

}  // namespace

cudaError_t launch_forward(const void* x, void* out, int64_t N, int64_t C, int64_t h, int64_t w,
                           int s, DType dtype, cudaStream_t stream) {
  const int64_t total = N * C * h * w * s * s;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(x), static_cast<scalar_t*>(out), N, C, h, w, s);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, void* grad_x, int64_t N, int64_t C, int64_t h,
                            int64_t w, int s, DType dtype, cudaStream_t stream) {
  const int64_t total = N * C * h * w * s * s;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    backward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<scalar_t*>(grad_x), N, C, h, w, s);
    return cudaGetLastError();
  });
}

}  // namespace pixel_shuffle
}  // namespace upb
