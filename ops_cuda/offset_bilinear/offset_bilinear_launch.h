// Launchers of the offset_bilinear CUDA kernels: raw pointers, sizes, dtype and stream only, so
// that offset_bilinear_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace offset_bilinear {

cudaError_t launch_forward(const void* x, const void* offsets, void* out, int64_t N, int64_t C,
                           int64_t M, int64_t h, int64_t w, int sh, int sw, bool align,
                           DType dtype, cudaStream_t stream);

// grad_x_acc: a zero-initialised accumulation buffer of x's size, float64 for float64 inputs and
// float32 otherwise (the binding converts it to x's dtype).
cudaError_t launch_backward(const void* grad_out, const void* x, const void* offsets,
                            void* grad_x_acc, void* grad_offsets, int64_t N, int64_t C, int64_t M,
                            int64_t h, int64_t w, int sh, int sw, bool align, DType dtype,
                            cudaStream_t stream);

}  // namespace offset_bilinear
}  // namespace upb
