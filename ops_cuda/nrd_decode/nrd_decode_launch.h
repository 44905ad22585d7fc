// Launchers of the NRD CUDA kernels: raw pointers, sizes, dtype and stream only, so that
// nrd_decode_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace nrd {

cudaError_t launch_forward(const void* params, const void* guidance, void* out, int64_t N,
                           int64_t h, int64_t w, int64_t m, int64_t K, int64_t hidden,
                           int64_t grid, bool coords, DType dtype, cudaStream_t stream);

// grad_params and grad_guidance are fully written (no pre-zeroing needed).
cudaError_t launch_backward(const void* grad_out, const void* params, const void* guidance,
                            void* grad_params, void* grad_guidance, int64_t N, int64_t h,
                            int64_t w, int64_t m, int64_t K, int64_t hidden, int64_t grid,
                            bool coords, DType dtype, cudaStream_t stream);

}  // namespace nrd
}  // namespace upb
