// Helpers for the thin CUDA bindings (*_cuda.cpp). Compiled by the host compiler, only where
// torch was built with CUDA; never included by a .cu file.
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "upb_common.h"

namespace upb {

inline DType to_upb_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DType::Float32;
    case at::kDouble: return DType::Float64;
    case at::kHalf: return DType::Float16;
    case at::kBFloat16: return DType::BFloat16;
    default:
      TORCH_CHECK(false, "upbench CUDA kernels support float32, float64, float16 and bfloat16, got ", t);
  }
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

inline void check_launch(cudaError_t err, const char* op) {
  TORCH_CHECK(err == cudaSuccess, "upbench::", op, " CUDA launch failed: ", cudaGetErrorString(err));
}

}  // namespace upb
