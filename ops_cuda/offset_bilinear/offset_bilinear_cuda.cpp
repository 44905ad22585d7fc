// Thin CUDA binding for upbench::offset_bilinear: checks, device guard, stream, dtype; the
// kernels live in offset_bilinear_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "offset_bilinear_launch.h"

namespace upb {
namespace offset_bilinear {
namespace {

at::Tensor offset_bilinear_cuda(const at::Tensor& x_, const at::Tensor& offsets, int64_t sh,
                                int64_t sw, bool align_corners) {
  contract::offset_bilinear(x_, offsets, sh, sw);
  const c10::cuda::CUDAGuard guard(x_.device());
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(1), off.size(2), off.size(3)}, x.options());
  check_launch(launch_forward(x.const_data_ptr(), off.const_data_ptr(), out.mutable_data_ptr(),
                              x.size(0), x.size(1), off.size(1) / 2, x.size(2), x.size(3),
                              static_cast<int>(sh), static_cast<int>(sw), align_corners,
                              to_upb_dtype(x.scalar_type()), current_stream()),
               "offset_bilinear");
  return out;
}

std::tuple<at::Tensor, at::Tensor> offset_bilinear_backward_cuda(const at::Tensor& grad_out,
                                                                 const at::Tensor& x_,
                                                                 const at::Tensor& offsets,
                                                                 int64_t sh, int64_t sw,
                                                                 bool align_corners) {
  contract::offset_bilinear_backward(grad_out, x_, offsets, sh, sw);
  const c10::cuda::CUDAGuard guard(x_.device());
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous(), go = grad_out.contiguous();
  const auto acc_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor gx_acc = at::zeros(x.sizes(), x.options().dtype(acc_type));
  at::Tensor goff = at::empty_like(off);
  check_launch(launch_backward(go.const_data_ptr(), x.const_data_ptr(), off.const_data_ptr(),
                               gx_acc.mutable_data_ptr(), goff.mutable_data_ptr(), x.size(0),
                               x.size(1), off.size(1) / 2, x.size(2), x.size(3),
                               static_cast<int>(sh), static_cast<int>(sw), align_corners,
                               to_upb_dtype(x.scalar_type()), current_stream()),
               "_offset_bilinear_backward");
  return std::make_tuple(gx_acc.to(x.scalar_type()), goff);
}

}  // namespace
}  // namespace offset_bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("offset_bilinear", &upb::offset_bilinear::offset_bilinear_cuda);
  m.impl("_offset_bilinear_backward", &upb::offset_bilinear::offset_bilinear_backward_cuda);
}
