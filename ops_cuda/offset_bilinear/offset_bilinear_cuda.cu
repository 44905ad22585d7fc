// CUDA kernels for upbench::offset_bilinear. No torch headers: compiled by `nvcc -c` on any
// machine. Grid-stride loops, math from offset_bilinear.h. The offset gradient is a gather over
// the group's channels (deterministic). The input gradient is a data-dependent scatter: it uses
// atomicAdd into a float/double buffer, so on CUDA its summation order (last bits) may vary from
// run to run, as with ATen's grid_sampler backward. The CPU kernel is deterministic.
#include "../common/upb_cuda_utils.cuh"
#include "offset_bilinear.h"
#include "offset_bilinear_launch.h"

namespace upb {
namespace offset_bilinear {
namespace {

// The sampling point of output element idx of the (N, C, H, W) output; nc = its (n, c) plane.
template <typename scalar_t, typename acc_t>
__device__ inline Sample<acc_t> output_sample(const scalar_t* __restrict__ off, const Dims& d,
                                              int64_t idx, int64_t& nc) {
  const int64_t HW = d.H * d.W, q = idx % d.W, p = (idx / d.W) % d.H;
  nc = idx / HW;
  const int64_t n = nc / d.C, m = group_of(d, nc % d.C);
  return sample_at<scalar_t, acc_t>(off + n * 2 * d.M * HW, d, m, p, q);
}

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ off,
                               scalar_t* __restrict__ out, int64_t N, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = N * d.C * d.H * d.W;
  UPB_GRID_STRIDE(idx, total) {
    int64_t nc;
    const Sample<acc_t> s = output_sample<scalar_t, acc_t>(off, d, idx, nc);
    out[idx] = store<scalar_t>(forward_elem<scalar_t, acc_t>(x + nc * d.h * d.w, d, s));
  }
}

template <typename scalar_t>
__global__ void grad_offset_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ x,
                                   const scalar_t* __restrict__ off, scalar_t* __restrict__ goff,
                                   int64_t N, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, total = N * d.M * HW;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % d.W, p = (idx / d.W) % d.H, nm = idx / HW;
    const int64_t n = nm / d.M, m = nm % d.M;
    const Sample<acc_t> s = sample_at<scalar_t, acc_t>(off + n * 2 * d.M * HW, d, m, p, q);
    const int64_t c_lo = m * (d.C / d.M), c_hi = c_lo + d.C / d.M;
    acc_t gy = acc_t(0), gx = acc_t(0);
    for (int64_t c = c_lo; c < c_hi; ++c) {
      grad_offset_terms<scalar_t, acc_t>(x + (n * d.C + c) * hw, d, s,
                                         load<acc_t>(go[(n * d.C + c) * HW + p * d.W + q]),
                                         gy, gx);
    }
    goff[(n * 2 * d.M + 2 * m) * HW + p * d.W + q] = store<scalar_t>(gy);
    goff[(n * 2 * d.M + 2 * m + 1) * HW + p * d.W + q] = store<scalar_t>(gx);
  }
}

template <typename scalar_t>
__global__ void grad_x_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ off,
                              typename AccType<scalar_t>::type* __restrict__ gx, int64_t N,
                              Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = N * d.C * d.H * d.W;
  UPB_GRID_STRIDE(idx, total) {
    int64_t nc;
    const Sample<acc_t> s = output_sample<scalar_t, acc_t>(off, d, idx, nc);
    int64_t in[4];
    acc_t wgt[4];
    input_weights<acc_t>(d, s, in, wgt);
    const acc_t g = load<acc_t>(go[idx]);
    acc_t* plane = gx + nc * d.h * d.w;
    for (int k = 0; k < 4; ++k) {
      if (wgt[k] != acc_t(0)) atomicAdd(plane + in[k], wgt[k] * g);
    }
  }
}

}  // namespace

cudaError_t launch_forward(const void* x, const void* offsets, void* out, int64_t N, int64_t C,
                           int64_t M, int64_t h, int64_t w, int sh, int sw, bool align,
                           DType dtype, cudaStream_t stream) {
  const Dims d{C, M, h, w, h * sh, w * sw, sh, sw, align};
  const int64_t total = N * C * d.H * d.W;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(x), static_cast<const scalar_t*>(offsets),
        static_cast<scalar_t*>(out), N, d);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const void* x, const void* offsets,
                            void* grad_x_acc, void* grad_offsets, int64_t N, int64_t C, int64_t M,
                            int64_t h, int64_t w, int sh, int sw, bool align, DType dtype,
                            cudaStream_t stream) {
  const Dims d{C, M, h, w, h * sh, w * sw, sh, sw, align};
  const int64_t nout = N * C * d.H * d.W, noff = N * M * d.H * d.W;
  if (nout == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    using acc_t = typename AccType<scalar_t>::type;
    grad_x_kernel<scalar_t><<<blocks_for(nout), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(offsets),
        static_cast<acc_t*>(grad_x_acc), N, d);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    grad_offset_kernel<scalar_t><<<blocks_for(noff), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(x),
        static_cast<const scalar_t*>(offsets), static_cast<scalar_t*>(grad_offsets), N, d);
    return cudaGetLastError();
  });
}

}  // namespace offset_bilinear
}  // namespace upb
