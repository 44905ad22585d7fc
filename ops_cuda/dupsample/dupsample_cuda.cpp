// Thin CUDA binding for upbench::dupsample: checks, device guard, stream, dtype; the kernels live
// in dupsample_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "dupsample_launch.h"

namespace upb {
namespace dupsample {
namespace {

at::Tensor dupsample_cuda(const at::Tensor& features, const at::Tensor& weight,
                          const at::Tensor& bias, int64_t r) {
  contract::dupsample(features, weight, bias, r);
  const c10::cuda::CUDAGuard guard(features.device());
  const at::Tensor f = features.contiguous(), W = weight.contiguous(), b = bias.contiguous();
  const int64_t C = W.size(0) / (r * r);
  at::Tensor out = at::empty({f.size(0), C, f.size(2) * r, f.size(3) * r}, f.options());
  check_launch(launch_forward(f.const_data_ptr(), W.const_data_ptr(), b.const_data_ptr(),
                              out.mutable_data_ptr(), f.size(0), f.size(1), C, f.size(2),
                              f.size(3), r, to_upb_dtype(f.scalar_type()), current_stream()),
               "dupsample");
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dupsample_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& features, const at::Tensor& weight, int64_t r) {
  contract::dupsample_backward(grad_out, features, weight, r);
  const at::Tensor b = at::empty({weight.size(0)}, weight.options());
  const c10::cuda::CUDAGuard guard(features.device());
  const at::Tensor f = features.contiguous(), W = weight.contiguous(), go = grad_out.contiguous();
  const int64_t C = W.size(0) / (r * r);
  at::Tensor gf = at::empty_like(f), gw = at::empty_like(W), gb = at::empty_like(b);
  check_launch(launch_backward(go.const_data_ptr(), f.const_data_ptr(), W.const_data_ptr(),
                               gf.mutable_data_ptr(), gw.mutable_data_ptr(), gb.mutable_data_ptr(),
                               f.size(0), f.size(1), C, f.size(2), f.size(3), r,
                               to_upb_dtype(f.scalar_type()), current_stream()),
               "_dupsample_backward");
  return std::make_tuple(gf, gw, gb);
}

}  // namespace
}  // namespace dupsample
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("dupsample", &upb::dupsample::dupsample_cuda);
  m.impl("_dupsample_backward", &upb::dupsample::dupsample_backward_cuda);
}
