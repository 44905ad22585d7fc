// CPU kernels for upbench::pyramid_fuse. Every element comes from the header functions the CUDA
// kernels call (choose_level / fused_value / grad_elem), so the default and the elementwise
// (cpu_kernel_mode 1) paths are the same code: the forward picks each finest row's levels once and
// then copies the K logits row by row; the backward gathers (no atomics, deterministic).
#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_contract.h"
#include "pyramid_fuse.h"

namespace upb {
namespace pyramid_fuse {
std::tuple<at::Tensor, at::Tensor> pyramid_fuse_cpu(at::TensorList semantic, at::TensorList unity,
                                                    double tau) {
  std::vector<at::Tensor> sem, uni;
  for (const auto& t : semantic) sem.push_back(t.contiguous());
  for (const auto& t : unity) uni.push_back(t.contiguous());
  contract::pyramid_fuse(sem, uni);
  const int L = static_cast<int>(sem.size());
  const int64_t N = sem[0].size(0), K = sem[0].size(1), H = sem[L - 1].size(2), W = sem[L - 1].size(3);
  at::Tensor out = at::empty({N, K, H, W}, sem[0].options());
  at::Tensor level = at::empty({N, H, W}, sem[0].options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(sem[0].scalar_type(), "pyramid_fuse_cpu", [&] {
    using acc_t = typename AccType<scalar_t>::type;
    Pyramid<scalar_t> p{};
    p.L = L;
    p.N = N;
    p.K = K;
    p.h0 = sem[0].size(2);
    p.w0 = sem[0].size(3);
    for (int l = 0; l < L; ++l) {
      p.sem[l] = sem[l].const_data_ptr<scalar_t>();
      p.uni[l] = l < L - 1 ? uni[l].const_data_ptr<scalar_t>() : nullptr;
    }
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    int64_t* lp = level.mutable_data_ptr<int64_t>();
    const acc_t t = static_cast<acc_t>(static_cast<scalar_t>(tau));
    at::parallel_for(0, N * H, grain_for(W * (K + L)), [&](int64_t begin, int64_t end) {
      std::vector<int> lv(W);
      for (int64_t r = begin; r < end; ++r) {
        const int64_t n = r / H, Y = r % H;
        for (int64_t X = 0; X < W; ++X) {
          lv[X] = choose_level<scalar_t, acc_t>(p, t, n, Y, X);
          lp[r * W + X] = lv[X];
        }
        for (int64_t k = 0; k < K; ++k) {
          scalar_t* orow = op + ((n * K + k) * H + Y) * W;
          for (int64_t X = 0; X < W; ++X) orow[X] = fused_value<scalar_t>(p, lv[X], n, k, Y, X);
        }
      }
    });
  });
  return std::make_tuple(out, level);
}

std::vector<at::Tensor> pyramid_fuse_backward_cpu(const at::Tensor& grad_out, const at::Tensor& level,
                                                  int64_t num_levels) {
  contract::pyramid_fuse_backward(grad_out, level, num_levels);
  const int L = static_cast<int>(num_levels);
  const at::Tensor go = grad_out.contiguous(), lv = level.contiguous();
  const int64_t N = go.size(0), K = go.size(1), H = go.size(2), W = go.size(3);
  std::vector<at::Tensor> grads;
  for (int l = 0; l < L; ++l) {
    const int s = L - 1 - l;
    grads.push_back(at::empty({N, K, H >> s, W >> s}, go.options()));
  }
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "pyramid_fuse_backward_cpu", [&] {
    using acc_t = typename AccType<scalar_t>::type;
    const scalar_t* gp = go.const_data_ptr<scalar_t>();
    const int64_t* lp = lv.const_data_ptr<int64_t>();
    for (int l = 0; l < L; ++l) {
      const int s = L - 1 - l;
      const int64_t hl = H >> s, wl = W >> s;
      scalar_t* dst = grads[l].mutable_data_ptr<scalar_t>();
      at::parallel_for(0, N * K * hl, grain_for(W << s), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t y = r % hl, nk = r / hl, n = nk / K, k = nk % K;
          for (int64_t x = 0; x < wl; ++x)
            dst[r * wl + x] = static_cast<scalar_t>(
                grad_elem<scalar_t, acc_t>(gp, lp, L, N, K, H, W, l, n, k, y, x));
        }
      });
    }
  });
  return grads;
}

}  // namespace pyramid_fuse
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("pyramid_fuse", &upb::pyramid_fuse::pyramid_fuse_cpu);
  m.impl("_pyramid_fuse_backward", &upb::pyramid_fuse::pyramid_fuse_backward_cpu);
}
