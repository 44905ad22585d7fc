// Thin CUDA binding for upbench::pyramid_fuse: checks, device guard, stream, dtype; the kernels
// live in pyramid_fuse_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include <vector>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "pyramid_fuse.h"
#include "pyramid_fuse_launch.h"

namespace upb {
namespace pyramid_fuse {
namespace {

std::tuple<at::Tensor, at::Tensor> pyramid_fuse_cuda(at::TensorList semantic, at::TensorList unity,
                                                     double tau) {
  const int L = static_cast<int>(semantic.size());
  std::vector<at::Tensor> sem, uni;
  for (const auto& t : semantic) sem.push_back(t.contiguous());
  for (const auto& t : unity) uni.push_back(t.contiguous());
  contract::pyramid_fuse(sem, uni);
  const at::Tensor& s0 = sem[0];
  const c10::cuda::CUDAGuard guard(s0.device());
  const int64_t N = s0.size(0), K = s0.size(1), H = sem[L - 1].size(2), W = sem[L - 1].size(3);
  at::Tensor out = at::empty({N, K, H, W}, s0.options());
  at::Tensor level = at::empty({N, H, W}, s0.options().dtype(at::kLong));
  const void* sp[kMaxLevels] = {};
  const void* up[kMaxLevels] = {};
  for (int l = 0; l < L; ++l) sp[l] = sem[l].const_data_ptr();
  for (int l = 0; l < L - 1; ++l) up[l] = uni[l].const_data_ptr();
  check_launch(launch_forward(sp, up, L, N, K, s0.size(2), s0.size(3), tau, out.mutable_data_ptr(),
                              level.mutable_data_ptr<int64_t>(), to_upb_dtype(s0.scalar_type()),
                              current_stream()),
               "pyramid_fuse");
  return std::make_tuple(out, level);
}

std::vector<at::Tensor> pyramid_fuse_backward_cuda(const at::Tensor& grad_out,
                                                   const at::Tensor& level, int64_t num_levels) {
  contract::pyramid_fuse_backward(grad_out, level, num_levels);
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const int L = static_cast<int>(num_levels);
  const at::Tensor go = grad_out.contiguous(), lv = level.contiguous();
  const int64_t N = go.size(0), K = go.size(1), H = go.size(2), W = go.size(3);
  std::vector<at::Tensor> grads;
  void* gp[kMaxLevels] = {};
  for (int l = 0; l < L; ++l) {
    const int s = L - 1 - l;
    grads.push_back(at::empty({N, K, H >> s, W >> s}, go.options()));
    gp[l] = grads.back().mutable_data_ptr();
  }
  check_launch(launch_backward(go.const_data_ptr(), lv.const_data_ptr<int64_t>(), L, N, K, H, W, gp,
                               to_upb_dtype(go.scalar_type()), current_stream()),
               "_pyramid_fuse_backward");
  return grads;
}

}  // namespace
}  // namespace pyramid_fuse
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("pyramid_fuse", &upb::pyramid_fuse::pyramid_fuse_cuda);
  m.impl("_pyramid_fuse_backward", &upb::pyramid_fuse::pyramid_fuse_backward_cuda);
}
