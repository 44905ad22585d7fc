// Launchers of the pyramid-fuse CUDA kernels: raw pointers, sizes, dtype and stream only, so that
// pyramid_fuse_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace pyramid_fuse {

// sem[l] / uni[l]: L (resp. L-1) device pointers; level: int64 (N, H, W).
cudaError_t launch_forward(const void* const* sem, const void* const* uni, int L, int64_t N,
                           int64_t K, int64_t h0, int64_t w0, double tau, void* out,
                           int64_t* level, DType dtype, cudaStream_t stream);

// grads[l]: L device pointers to (N, K, H >> (L-1-l), W >> (L-1-l)).
cudaError_t launch_backward(const void* grad_out, const int64_t* level, int L, int64_t N,
                            int64_t K, int64_t H, int64_t W, void* const* grads, DType dtype,
                            cudaStream_t stream);

}  // namespace pyramid_fuse
}  // namespace upb
