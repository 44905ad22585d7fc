// CUDA kernels for upbench::sapa_similarity. No torch headers: compiled by `nvcc -c` on any
// machine. One thread per output element, grid-stride loops, math from sapa_similarity.h. The
// backward is a gather (one thread per gradient element, no atomics): deterministic.
#include "../common/upb_cuda_utils.cuh"
#include "sapa_similarity.h"
#include "sapa_similarity_launch.h"

namespace upb {
namespace sapa {
namespace {

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ qp, const scalar_t* __restrict__ kp,
                               scalar_t* __restrict__ out, int64_t N, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  const int64_t total = N * KK * d.H * d.W;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % d.W, p = (idx / d.W) % d.H;
    const int64_t tap = (idx / (d.W * d.H)) % KK, n = idx / (d.W * d.H * KK);
    out[idx] = store<scalar_t>(forward_elem<scalar_t, acc_t>(
        qp + n * d.d * d.H * d.W, kp + n * d.d * d.h * d.w, d, static_cast<int>(tap / d.K),
        static_cast<int>(tap % d.K), p, q));
  }
}

template <typename scalar_t>
__global__ void grad_query_kernel(const scalar_t* __restrict__ gp, const scalar_t* __restrict__ kp,
                                  scalar_t* __restrict__ gq, int64_t N, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  const int64_t total = N * d.d * d.H * d.W;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t q = idx % d.W, p = (idx / d.W) % d.H;
    const int64_t c = (idx / (d.W * d.H)) % d.d, n = idx / (d.W * d.H * d.d);
    gq[idx] = store<scalar_t>(grad_query_elem<scalar_t, acc_t>(
        gp + n * KK * d.H * d.W, kp + n * d.d * d.h * d.w, d, c, p, q));
  }
}

template <typename scalar_t>
__global__ void grad_key_kernel(const scalar_t* __restrict__ gp, const scalar_t* __restrict__ qp,
                                scalar_t* __restrict__ gk, int64_t N, Dims d) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  const int64_t total = N * d.d * d.h * d.w;
  UPB_GRID_STRIDE(idx, total) {
    const int64_t x = idx % d.w, y = (idx / d.w) % d.h;
    const int64_t c = (idx / (d.w * d.h)) % d.d, n = idx / (d.w * d.h * d.d);
    gk[idx] = store<scalar_t>(grad_key_elem<scalar_t, acc_t>(
        gp + n * KK * d.H * d.W, qp + n * d.d * d.H * d.W, d, c, y, x));
  }
}

}  // namespace

cudaError_t launch_forward(const void* query, const void* key, void* out, int64_t N, int64_t d,
                           int64_t h, int64_t w, int K, int s, DType dtype, cudaStream_t stream) {
  const Dims dims{d, h, w, h * s, w * s, K, s};
  const int64_t total = N * static_cast<int64_t>(K) * K * dims.H * dims.W;
  if (total == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    forward_kernel<scalar_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(query), static_cast<const scalar_t*>(key),
        static_cast<scalar_t*>(out), N, dims);
    return cudaGetLastError();
  });
}

cudaError_t launch_backward(const void* grad_out, const void* query, const void* key,
                            void* grad_query, void* grad_key, int64_t N, int64_t d, int64_t h,
                            int64_t w, int K, int s, DType dtype, cudaStream_t stream) {
  const Dims dims{d, h, w, h * s, w * s, K, s};
  const int64_t nq = N * d * dims.H * dims.W, nk = N * d * h * w;
  if (nq == 0 || nk == 0) return cudaSuccess;
  return UPB_DISPATCH_CUDA(dtype, [&] {
    grad_query_kernel<scalar_t><<<blocks_for(nq), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(key),
        static_cast<scalar_t*>(grad_query), N, dims);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    grad_key_kernel<scalar_t><<<blocks_for(nk), kThreads, 0, stream>>>(
        static_cast<const scalar_t*>(grad_out), static_cast<const scalar_t*>(query),
        static_cast<scalar_t*>(grad_key), N, dims);
    return cudaGetLastError();
  });
}

}  // namespace sapa
}  // namespace upb
