// Thin CUDA binding for upbench::nrd_decode: checks, device guard, stream, dtype; the kernels
// live in nrd_decode_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_cuda_binding.h"
#include "nrd_decode.h"
#include "nrd_decode_launch.h"

namespace upb {
namespace nrd {
namespace {

Dims check(const at::Tensor& th, const at::Tensor& gd, int64_t K, int64_t d, int64_t g,
           bool coords) {
  TORCH_CHECK(th.is_cuda() && gd.is_cuda(), "nrd_decode: tensors must be on the same CUDA device");
  TORCH_CHECK(th.dim() == 4 && gd.dim() == 4, "nrd_decode: params and guidance must be 4-D");
  TORCH_CHECK(K >= 1 && d >= 1 && d <= kMaxHidden && g >= 1, "nrd_decode: bad num_classes, hidden or grid");
  const Dims dd{th.size(0), th.size(2), th.size(3), gd.size(1), K, d, g, coords};
  TORCH_CHECK(dd.D0() >= 1 && dd.D0() <= kMaxInput, "nrd_decode: bad MLP input width");
  TORCH_CHECK(th.size(1) == dd.P(), "nrd_decode: params must have P = ", dd.P(), " channels");
  TORCH_CHECK(gd.size(0) == dd.N && gd.size(2) == dd.H() && gd.size(3) == dd.W(),
              "nrd_decode: guidance must be (N, m, h*grid, w*grid)");
  TORCH_CHECK(th.scalar_type() == gd.scalar_type(), "nrd_decode: dtype mismatch");
  return dd;
}

at::Tensor nrd_decode_cuda(const at::Tensor& params, const at::Tensor& guidance, int64_t K,
                           int64_t hidden, int64_t grid, bool coords) {
  const Dims d = check(params, guidance, K, hidden, grid, coords);
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
  const Dims d = check(params, guidance, K, hidden, grid, coords);
  const c10::cuda::CUDAGuard guard(params.device());
  const at::Tensor th = params.contiguous(), gd = guidance.contiguous(), go = grad_out.contiguous();
  TORCH_CHECK(go.dim() == 4 && go.size(0) == d.N && go.size(1) == K && go.size(2) == d.H() &&
                  go.size(3) == d.W(),
              "_nrd_decode_backward: grad_out must be (N, K, h*grid, w*grid)");
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
