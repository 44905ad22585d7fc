// CUDA kernels for upbench::dupsample. No torch headers: compiled by `nvcc -c` on any machine.
// One thread per output / gradient element (grid-stride), math from dupsample.h; the backward is
// a gather, deterministic like the CPU one.
#include "../common/upb_cuda_utils.cuh"
#include "dupsample.h"
#include "dupsample_launch.h"

namespace upb {
namespace dupsample {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ f, const scalar_t* __restrict__ W,
                               const scalar_t* __restrict__ b, scalar_t* __restrict__ out,
                               Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t H = d.H(), Wd = d.W(), total = d.N * d.C * H * Wd;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % Wd, p = (idx / Wd) % H, nc = idx / (Wd * H);
    const int64_t n = nc / d.C, c = nc % d.C;
    out[idx] = store<scalar_t>(
        forward_elem<scalar_t, acc_t>(f + n * d.Ct * d.h * d.w, W, b, d, c, p, q));
  }
}

template <typename scalar_t>
__global__ void grad_f_kernel(const scalar_t* __restrict__ g, const scalar_t* __restrict__ W,
                              scalar_t* __restrict__ gf, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = d.N * d.Ct * d.h * d.w;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t x = idx % d.w, y = (idx / d.w) % d.h, nk = idx / (d.w * d.h);
    const int64_t n = nk / d.Ct, k = nk % d.Ct;
    gf[idx] = store<scalar_t>(
        grad_f_elem<scalar_t, acc_t>(g + n * d.C * d.H() * d.W(), W, d, k, y, x));
  }
}

template <typename scalar_t>
__global__ void grad_w_kernel(const scalar_t* __restrict__ g, const scalar_t* __restrict__ f,
                              scalar_t* __restrict__ gw, scalar_t* __restrict__ gb, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t total = d.O() * (d.Ct + 1);
  UPB_GRID_STRIDE(idx, total) {
    const int64_t o = idx / (d.Ct + 1), k = idx % (d.Ct + 1);
    if (k < d.Ct) {
      gw[o * d.Ct + k] = store<scalar_t>(grad_w_elem<scalar_t, acc_t>(g, f, d, o, k));
    } else {
      gb[o] = store<scalar_t>(grad_b_elem<scalar_t, acc_t>(g, d, o));
    }
  }
}

}  // namespace

cudaError_t launch_forward(const void* f, const void* W, const void* b, void* out, int64_t N,
                           int64_t Ct, int64_t C, int64_t h, int64_t w, int64_t r, DType dtype,
                           cudaStream_t stream) {
  const Dims d{N, Ct, C, h, w, r};
  const int64_t total = N * C * d.H() * d.W();
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(f), static_cast<const scalar_t*>(W),
        static_cast<const scalar_t*>(b), static_cast<scalar_t*>(out), d);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const void* f, const void* W, void* grad_f,
                            void* grad_W, void* grad_b, int64_t N, int64_t Ct, int64_t C,
                            int64_t h, int64_t w, int64_t r, DType dtype, cudaStream_t stream) {
  const Dims d{N, Ct, C, h, w, r};
  const int64_t nf = N * Ct * h * w, nw = d.O() * (Ct + 1);
  return UPB_DISPATCH_CUDA(dtype, [&] {
    if (nf > 0) {
      grad_f_kernel<scalar_t><<<blocks_for(nf), kThreads, 0, stream>>>(
          static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(W),
          static_cast<scalar_t*>(grad_f), d);
      cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) return err;
    }
    if (nw > 0) {
      grad_w_kernel<scalar_t><<<blocks_for(nw), kThreads, 0, stream>>>(
          static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(f),
          static_cast<scalar_t*>(grad_W), static_cast<scalar_t*>(grad_b), d);
    }
    return cudaGetLastError();
  });
}

}  // namespace dupsample
}  // namespace upb
