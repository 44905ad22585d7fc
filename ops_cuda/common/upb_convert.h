// Value conversions between a kernel's element type and its accumulation type.
//
// torch's nvcc flags (-D__CUDA_NO_HALF_CONVERSIONS__, -D__CUDA_NO_BFLOAT16_CONVERSIONS__,
// -D__CUDA_NO_HALF_OPERATORS__, ...) remove the implicit conversions of __half and
// __nv_bfloat16, so no kernel may `static_cast` between them and float. Every header and kernel
// converts values through these two functions instead:
//
//   acc_t a = upb::load<acc_t>(x[i]);        // element -> accumulator
//   y[i] = upb::store<scalar_t>(a);          // accumulator -> element
//
// float and double convert with static_cast; __half and __nv_bfloat16 (CUDA only) through the
// cuda_fp16 / cuda_bf16 intrinsics (round to nearest even on store). This header stays free of
// torch headers; the half types exist only when compiled by nvcc.
#pragma once

#include "upb_common.h"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace upb {

// Cast<From, To>::apply(v): the one place a value changes type.
template <typename From, typename To>
struct Cast {
  UPB_HOST_DEVICE static inline To apply(From v) { return static_cast<To>(v); }
};

#if defined(__CUDACC__)
template <>
struct Cast<__half, float> {
  UPB_HOST_DEVICE static inline float apply(__half v) { return __half2float(v); }
};
template <>
struct Cast<float, __half> {
  UPB_HOST_DEVICE static inline __half apply(float v) { return __float2half_rn(v); }
};
template <>
struct Cast<__half, double> {
  UPB_HOST_DEVICE static inline double apply(__half v) { return static_cast<double>(__half2float(v)); }
};
template <>
struct Cast<double, __half> {
  UPB_HOST_DEVICE static inline __half apply(double v) { return __double2half(v); }
};
template <>
struct Cast<__nv_bfloat16, float> {
  UPB_HOST_DEVICE static inline float apply(__nv_bfloat16 v) { return __bfloat162float(v); }
};
template <>
struct Cast<float, __nv_bfloat16> {
  UPB_HOST_DEVICE static inline __nv_bfloat16 apply(float v) { return __float2bfloat16_rn(v); }
};
template <>
struct Cast<__nv_bfloat16, double> {
  UPB_HOST_DEVICE static inline double apply(__nv_bfloat16 v) {
    return static_cast<double>(__bfloat162float(v));
  }
};
template <>
struct Cast<double, __nv_bfloat16> {
  UPB_HOST_DEVICE static inline __nv_bfloat16 apply(double v) { return __double2bfloat16(v); }
};
#endif

// Load an element as the accumulation type: load<acc_t>(x[i]).
template <typename acc_t, typename scalar_t>
UPB_HOST_DEVICE inline acc_t load(scalar_t v) {
  return Cast<scalar_t, acc_t>::apply(v);
}

// Store an accumulated value as the element type: y[i] = store<scalar_t>(acc).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline scalar_t store(acc_t v) {
  return Cast<acc_t, scalar_t>::apply(v);
}

}  // namespace upb
