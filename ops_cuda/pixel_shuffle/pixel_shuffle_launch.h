// Launchers of the pixel_shuffle CUDA kernels (torch-free; shared by the .cu and the binding).
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace pixel_shuffle {

// x: (N, C*s*s, h, w) -> out: (N, C, s*h, s*w)
cudaError_t launch_forward(const void* x, void* out, int64_t N, int64_t C, int64_t h, int64_t w,
                           int s, DType dtype, cudaStream_t stream);
// grad_out: (N, C, s*h, s*w) -> grad_x: (N, C*s*s, h, w)
cudaError_t launch_backward(const void* grad_out, void* grad_x, int64_t N, int64_t C, int64_t h,
                            int64_t w, int s, DType dtype, cudaStream_t stream);

}  // namespace pixel_shuffle
}  // namespace upb
