// Thin CUDA binding for upbench::bilinear_upsample (built only where torch has CUDA).
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "bilinear_launch.h"

namespace upb {
namespace bilinear {
namespace {

at::Tensor forward_cuda(const at::Tensor& input, int64_t s) {
  contract::bilinear_upsample(input, s);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(1), x.size(2) * s, x.size(3) * s}, x.options());
  check_launch(launch_forward(x.const_data_ptr(), out.mutable_data_ptr(), x.size(0) * x.size(1),
                              x.size(2), x.size(3), static_cast<int>(s),
                              to_upb_dtype(x.scalar_type()), current_stream()),
               "bilinear_upsample");
  return out;
}

at::Tensor backward_cuda(const at::Tensor& grad_out, int64_t h, int64_t w, int64_t s) {
  contract::bilinear_upsample_backward(grad_out, h, w, s);
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const at::Tensor g = grad_out.contiguous();
  at::Tensor gx = at::empty({g.size(0), g.size(1), h, w}, g.options());
  check_launch(launch_backward(g.const_data_ptr(), gx.mutable_data_ptr(), g.size(0) * g.size(1), h,
                               w, static_cast<int>(s), to_upb_dtype(g.scalar_type()),
                               current_stream()),
               "_bilinear_upsample_backward");
  return gx;
}

}  // namespace
}  // namespace bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("bilinear_upsample", &upb::bilinear::forward_cuda);
  m.impl("_bilinear_upsample_backward", &upb::bilinear::backward_cuda);
}
