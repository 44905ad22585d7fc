// Shared helpers for upbench's native operators.
//
// This header is included by the CPU kernels (compiled by the host C++ compiler with torch) and by
// the CUDA kernels (compiled by nvcc WITHOUT any torch header). It must therefore stay free of
// torch, c10 and CUDA runtime includes.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define UPB_HOST_DEVICE __host__ __device__
#else
#define UPB_HOST_DEVICE
#endif

namespace upb {

// Element types a launcher can be asked to run. The binding maps torch dtypes onto these.
enum class DType : int { Float32 = 0, Float64 = 1, Float16 = 2, BFloat16 = 3 };

// Accumulation type: float for float16/bfloat16/float32, double for double.
template <typename scalar_t>
struct AccType {
  using type = float;
};
template <>
struct AccType<double> {
  using type = double;
};

// a·b + c rounded once (a fused multiply-add), for float and double on host and device alike
UPB_HOST_DEVICE inline float upb_fma(float a, float b, float c) { return fmaf(a, b, c); }
UPB_HOST_DEVICE inline double upb_fma(double a, double b, double c) { return fma(a, b, c); }

template <typename T>
UPB_HOST_DEVICE inline T upb_min(T a, T b) { return a < b ? a : b; }
template <typename T>
UPB_HOST_DEVICE inline T upb_max(T a, T b) { return a > b ? a : b; }

// Floor division for possibly negative integers (C++ `/` truncates toward zero).
UPB_HOST_DEVICE inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (q * b > a) ? q - 1 : q;
}

}  // namespace upb
