// Launchers of the bilinear CUDA kernels (torch-free; shared by the .cu and the binding).
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace bilinear {

cudaError_t launch_forward(const void* x, void* out, int64_t NC, int64_t h, int64_t w, int s,
                           DType dtype, cudaStream_t stream);
cudaError_t launch_backward(const void* grad_out, void* grad_x, int64_t NC, int64_t h, int64_t w,
                            int s, DType dtype, cudaStream_t stream);

}  // namespace bilinear
}  // namespace upb
