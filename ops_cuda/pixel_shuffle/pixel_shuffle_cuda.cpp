// Thin CUDA binding for upbench::pixel_shuffle (built only where torch has CUDA).
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "pixel_shuffle_launch.h"

namespace upb {
namespace pixel_shuffle {
namespace {

at::Tensor forward_cuda(const at::Tensor& input, int64_t s) {
  contract::pixel_shuffle(input, s);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const int64_t C = x.size(1) / (s * s);
  at::Tensor out = at::empty({x.size(0), C, x.size(2) * s, x.size(3) * s}, x.options());
  check_launch(launch_forward(x.const_data_ptr(), out.mutable_data_ptr(), x.size(0), C, x.size(2),
                              x.size(3), static_cast<int>(s), to_upb_dtype(x.scalar_type()),
                              current_stream()),
               "pixel_shuffle");
  return out;
}

at::Tensor backward_cuda(const at::Tensor& grad_out, int64_t s) {
  contract::pixel_shuffle_backward(grad_out, s);
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const at::Tensor g = grad_out.contiguous();
  const int64_t h = g.size(2) / s, w = g.size(3) / s;
  at::Tensor gx = at::empty({g.size(0), g.size(1) * s * s, h, w}, g.options());
  check_launch(launch_backward(g.const_data_ptr(), gx.mutable_data_ptr(), g.size(0), g.size(1), h,
                               w, static_cast<int>(s), to_upb_dtype(g.scalar_type()),
                               current_stream()),
               "_pixel_shuffle_backward");
  return gx;
}

}  // namespace
}  // namespace pixel_shuffle
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("pixel_shuffle", &upb::pixel_shuffle::forward_cuda);
  m.impl("_pixel_shuffle_backward", &upb::pixel_shuffle::backward_cuda);
}
