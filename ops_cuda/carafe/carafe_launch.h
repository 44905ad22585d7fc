// Launchers of the CARAFE CUDA kernels: raw pointers, sizes, dtype and stream only, so that
// carafe_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace carafe {

cudaError_t launch_forward(const void* x, const void* masks, void* out, int64_t N, int64_t C,
                           int64_t h, int64_t w, int K, int G, int s, DType dtype,
                           cudaStream_t stream);

cudaError_t launch_backward(const void* grad_out, const void* x, const void* masks, void* grad_x,
                            void* grad_masks, int64_t N, int64_t C, int64_t h, int64_t w, int K,
                            int G, int s, DType dtype, cudaStream_t stream);

}  // namespace carafe
}  // namespace upb
