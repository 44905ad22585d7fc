// Thin CUDA binding for upbench::nrd_decode: checks, device guard, stream, dtype; the kernels
// live in nrd_decode_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "nrd_decode.h"
#include "nrd_decode_launch.h"

namespace upb {
namespace nrd {
namespace {

at::Tensor nrd_decode_cuda(const at::Tensor& params, const at::Tensor& guidance, int64_t K,
                           int64_t hidden, int64_t grid, bool coords) {
  contract::nrd_decode(params, guidance, K, hidden, grid, coords);
  const Dims d = dims_of(params, guidance, K, hidden, grid, coords);
  const c10::cuda::CUDAGuard guard(params.device());
  const at::Tensor th = params.contiguous(), gd = guidance.contiguous();
  at::Tensor out = at::empty({d.N, K, d.H(), d.W()}, th.options());
  check_launch(launch_forward(th.const_data_ptr(), gd.const_data_ptr(), out.mutable_data_ptr(),
                              d.N, d.h, d.w, d.m, K, hidden, grid, coords,
                              to_upb_dtype(th.scalar_type()), current_stream()),
               "nrd_decode");
  return out;
}

std::tuple<at::Tensor, at::Tensor> nrd_decode_backward_cuda(const at::Tensor& grad_out,
                                                            const at::Tensor& params,
                                                            const at::Tensor& guidance, int64_t K,
                                                            int64_t hidden, int64_t grid,
                                                            bool coords) {
  contract::nrd_decode_backward(grad_out, params, guidance, K, hidden, grid, coords);
  const Dims d = dims_of(params, guidance, K, hidden, grid, coords);
  const c10::cuda::CUDAGuard guard(params.device());
  const at::Tensor th = params.contiguous(), gd = guidance.contiguous(), go = grad_out.contiguous();
  at::Tensor gth = at::empty_like(th), ggd = at::empty_like(gd);
  check_launch(launch_backward(go.const_data_ptr(), th.const_data_ptr(), gd.const_data_ptr(),
                               gth.mutable_data_ptr(), ggd.mutable_data_ptr(), d.N, d.h, d.w, d.m,
                               K, hidden, grid, coords, to_upb_dtype(th.scalar_type()),
                               current_stream()),
               "_nrd_decode_backward");
  return std::make_tuple(gth, ggd);
}

}  // namespace
}  // namespace nrd
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("nrd_decode", &upb::nrd::nrd_decode_cuda);
  m.impl("_nrd_decode_backward", &upb::nrd::nrd_decode_backward_cuda);
}
