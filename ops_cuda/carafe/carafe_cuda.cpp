// Thin CUDA binding for upbench::carafe: checks, device guard, stream, dtype; the kernels live in
// carafe_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "carafe_launch.h"

namespace upb {
namespace carafe {
namespace {

at::Tensor carafe_cuda(const at::Tensor& features, const at::Tensor& masks, int64_t K, int64_t G,
                       int64_t s) {
  contract::carafe(features, masks, K, G, s);
  const c10::cuda::CUDAGuard guard(features.device());
  const at::Tensor x = features.contiguous(), m = masks.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(1), x.size(2) * s, x.size(3) * s}, x.options());
  check_launch(launch_forward(x.const_data_ptr(), m.const_data_ptr(), out.mutable_data_ptr(),
                              x.size(0), x.size(1), x.size(2), x.size(3), K, G, s,
                              to_upb_dtype(x.scalar_type()), current_stream()),
               "carafe");
  return out;
}

std::tuple<at::Tensor, at::Tensor> carafe_backward_cuda(const at::Tensor& grad_out,
                                                        const at::Tensor& features,
                                                        const at::Tensor& masks, int64_t K,
                                                        int64_t G, int64_t s) {
  contract::carafe_backward(grad_out, features, masks, K, G, s);
  const c10::cuda::CUDAGuard guard(features.device());
  const at::Tensor x = features.contiguous(), m = masks.contiguous(), go = grad_out.contiguous();
  at::Tensor gx = at::empty_like(x), gm = at::empty_like(m);
  check_launch(launch_backward(go.const_data_ptr(), x.const_data_ptr(), m.const_data_ptr(),
                               gx.mutable_data_ptr(), gm.mutable_data_ptr(), x.size(0), x.size(1),
                               x.size(2), x.size(3), K, G, s, to_upb_dtype(x.scalar_type()),
                               current_stream()),
               "_carafe_backward");
  return std::make_tuple(gx, gm);
}

}  // namespace
}  // namespace carafe
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("carafe", &upb::carafe::carafe_cuda);
  m.impl("_carafe_backward", &upb::carafe::carafe_backward_cuda);
}
