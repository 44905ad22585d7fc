// Launchers of the SAPA similarity CUDA kernels: raw pointers, sizes, dtype and stream only, so
// that sapa_similarity_cuda.cu needs no torch header. Shared by the .cu and the binding.
#pragma once

#include <cuda_runtime_api.h>

#include "../common/upb_common.h"

namespace upb {
namespace sapa {

cudaError_t launch_forward(const void* query, const void* key, void* out, int64_t N, int64_t d,
                           int64_t h, int64_t w, int K, int s, DType dtype, cudaStream_t stream);

cudaError_t launch_backward(const void* grad_out, const void* query, const void* key,
                            void* grad_query, void* grad_key, int64_t N, int64_t d, int64_t h,
                            int64_t w, int K, int s, DType dtype, cudaStream_t stream);

}  // namespace sapa
}  // namespace upb
