// Thin CUDA binding for upbench::sapa_similarity: checks, device guard, stream, dtype; the
// kernels live in sapa_similarity_cuda.cu. Built only when torch has CUDA.
#include <torch/library.h>

#include "../common/upb_contract.h"
#include "../common/upb_cuda_binding.h"
#include "sapa_similarity_launch.h"

namespace upb {
namespace sapa {
namespace {

at::Tensor sapa_similarity_cuda(const at::Tensor& query, const at::Tensor& key, int64_t K,
                                int64_t s) {
  contract::sapa_similarity(query, key, K, s);
  const c10::cuda::CUDAGuard guard(key.device());
  const at::Tensor q = query.contiguous(), k = key.contiguous();
  at::Tensor out = at::empty({k.size(0), K * K, k.size(2) * s, k.size(3) * s}, k.options());
  check_launch(launch_forward(q.const_data_ptr(), k.const_data_ptr(), out.mutable_data_ptr(),
                              k.size(0), k.size(1), k.size(2), k.size(3), static_cast<int>(K),
                              static_cast<int>(s), to_upb_dtype(k.scalar_type()), current_stream()),
               "sapa_similarity");
  return out;
}

std::tuple<at::Tensor, at::Tensor> sapa_similarity_backward_cuda(const at::Tensor& grad_out,
                                                                 const at::Tensor& query,
                                                                 const at::Tensor& key, int64_t K,
                                                                 int64_t s) {
  contract::sapa_similarity_backward(grad_out, query, key, K, s);
  const c10::cuda::CUDAGuard guard(key.device());
  const at::Tensor q = query.contiguous(), k = key.contiguous(), go = grad_out.contiguous();
  at::Tensor gq = at::empty_like(q), gk = at::empty_like(k);
  check_launch(launch_backward(go.const_data_ptr(), q.const_data_ptr(), k.const_data_ptr(),
                               gq.mutable_data_ptr(), gk.mutable_data_ptr(), k.size(0), k.size(1),
                               k.size(2), k.size(3), static_cast<int>(K), static_cast<int>(s),
                               to_upb_dtype(k.scalar_type()), current_stream()),
               "_sapa_similarity_backward");
  return std::make_tuple(gq, gk);
}

}  // namespace
}  // namespace sapa
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CUDA, m) {
  m.impl("sapa_similarity", &upb::sapa::sapa_similarity_cuda);
  m.impl("_sapa_similarity_backward", &upb::sapa::sapa_similarity_backward_cuda);
}
