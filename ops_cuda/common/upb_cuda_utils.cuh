// Torch-free CUDA helpers shared by every *_cuda.cu file: grid-stride launch geometry and the
// dtype switch used by launchers. Include only from .cu files.
#pragma once

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "upb_common.h"
#include "upb_convert.h"

namespace upb {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b > 65535 * 8) b = 65535 * 8;  // grid-stride loops cover the rest
  return static_cast<int>(b < 1 ? 1 : b);
}

#define UPB_GRID_STRIDE(i, n)                                                        \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Calls F<scalar_t>() for the runtime dtype; returns cudaErrorInvalidValue for an unknown one.
#define UPB_DISPATCH_CUDA(DTYPE, ...)                                  \
  [&]() -> cudaError_t {                                               \
    switch (DTYPE) {                                                   \
      case ::upb::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }          \
      case ::upb::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }         \
      case ::upb::DType::Float16: { using scalar_t = __half; return __VA_ARGS__(); }         \
      case ::upb::DType::BFloat16: { using scalar_t = __nv_bfloat16; return __VA_ARGS__(); } \
    }                                                                  \
    return cudaErrorInvalidValue;                                      \
  }()

}  // namespace upb
