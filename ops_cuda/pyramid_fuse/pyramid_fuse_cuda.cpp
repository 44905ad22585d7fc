// Thin CUDA binding for upbench::pyramid_fuse: checks, device guard, stream, dtype; the kernels
// live in pyramid_fuse_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include <vector>

#include "../common/upb_cuda_binding.h"
#include "pyramid_fuse.h"
#include "pyramid_fuse_launch.h"

namespace upb {
namespace pyramid_fuse {
namespace {

std::tuple<at::Tensor, at::Tensor> pyramid_fuse_cuda(at::TensorList semantic, at::TensorList unity,
                                                     double tau) {
  const int L = static_cast<int>(semantic.size());
  TORCH_CHECK(L >= 1 && L <= kMaxLevels, "pyramid_fuse: need 1..", kMaxLevels, " levels");
  TORCH_CHECK(static_cast<int>(unity.size()) == L - 1, "pyramid_fuse: need L-1 unity maps");
  std::vector<at::Tensor> sem, uni;
  const at::Tensor& s0 = semantic[0];
  for (int l = 0; l < L; ++l) {
    const at::Tensor& t = semantic[l];
    TORCH_CHECK(t.is_cuda() && t.device() == s0.device() && t.scalar_type() == s0.scalar_type(),
                "pyramid_fuse: all tensors must be on one CUDA device with one dtype");
    TORCH_CHECK(t.dim() == 4 && t.size(0) == s0.size(0) && t.size(1) == s0.size(1) &&
                    t.size(2) == (s0.size(2) << l) && t.size(3) == (s0.size(3) << l),
                "pyramid_fuse: semantic[", l, "] must be (N, K, h0*2^l, w0*2^l)");
    sem.push_back(t.contiguous());
    if (l < L - 1) {
      const at::Tensor& u = unity[l];
      TORCH_CHECK(u.is_cuda() && u.device() == s0.device() && u.scalar_type() == s0.scalar_type(),
                  "pyramid_fuse: all tensors must be on one CUDA device with one dtype");
      TORCH_CHECK(u.dim() == 4 && u.size(0) == s0.size(0) && u.size(1) == 1 &&
                      u.size(2) == t.size(2) && u.size(3) == t.size(3),
                  "pyramid_fuse: unity[", l, "] must be (N, 1, h_l, w_l)");
      uni.push_back(u.contiguous());
    }
  }
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
  TORCH_CHECK(num_levels >= 1 && num_levels <= kMaxLevels, "_pyramid_fuse_backward: bad num_levels");
  TORCH_CHECK(grad_out.is_cuda() && level.is_cuda() && level.scalar_type() == at::kLong,
              "_pyramid_fuse_backward: CUDA grad_out and int64 level expected");
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
