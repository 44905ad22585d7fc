// CUDA kernels for upbench::bilinear_upsample (no torch headers). One thread per output element
// for the forward and one per input element for the gather backward (deterministic).
#include "../common/upb_cuda_utils.cuh"
#include "bilinear.h"
#include "bilinear_launch.h"

namespace upb {
namespace bilinear {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                               int64_t NC, int64_t h, int64_t w, int s) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = h * s, W = w * s, total = NC * H * W;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % W, p = (idx / W) % H, nc = idx / (H * W);
    out[idx] = store<scalar_t>(forward_elem<scalar_t, acc_t>(x + nc * h * w, h, w, s, p, q));
  }
}

template <typename scalar_t>
__global__ void backward_kernel(const scalar_t* __restrict__ g, scalar_t* __restrict__ gx,
                                int64_t NC, int64_t h, int64_t w, int s) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = NC * h * w;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t xx = idx % w, y = (idx / w) % h, nc = idx / (h * w);
    gx[idx] = store<scalar_t>(grad_elem<scalar_t, acc_t>(g + nc * h * s * w * s, h, w, s, y, xx));
  }
}

}  // namespace

cudaError_t launch_forward(const void* x, void* out, int64_t NC, int64_t h, int64_t w, int s,
                           DType dtype, cudaStream_t stream) {
  const int64_t total = NC * h * s * w * s;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(x), static_cast<scalar_t*>(out), NC, h, w, s);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, void* grad_x, int64_t NC, int64_t h, int64_t w,
                            int s, DType dtype, cudaStream_t stream) {
  const int64_t total = NC * h * w;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    backward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<scalar_t*>(grad_x), NC, h, w, s);
    return cudaGetLastError();
  });
}

}  // namespace bilinear
}  // namespace upb
