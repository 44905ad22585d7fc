// Launchers of the DUpsampling CUDA kernels: raw pointers, sizes, dtype and stream only, so that
// dupsample_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace dupsample {

cudaError_t launch_forward(const void* f, const void* W, const void* b, void* out, int64_t N,
                           int64_t Ct, int64_t C, int64_t h, int64_t w, int64_t r, DType dtype,
                           cudaStream_t stream);

cudaError_t launch_backward(const void* grad_out, const void* f, const void* W, void* grad_f,
                            void* grad_W, void* grad_b, int64_t N, int64_t Ct, int64_t C,
                            int64_t h, int64_t w, int64_t r, DType dtype, cudaStream_t stream);

}  // namespace dupsample
}  // namespace upb
