// CPU kernels for upbench::bilinear_upsample. The forward precomputes the per-column source
// indices and weights once (bilinear.h's source_index) and runs rows in parallel; the backward is
// a deterministic gather (bilinear.h's grad_elem), one task per input row.
#include <vector>

#include "../common/upb_cpu.h"
#include "bilinear.h"

namespace upb {
namespace bilinear {

at::Tensor bilinear_upsample_cpu(const at::Tensor& input, int64_t s) {
  TORCH_CHECK(input.dim() == 4, "bilinear_upsample: x must be 4-D");
  TORCH_CHECK(s >= 1, "bilinear_upsample: scale_factor must be >= 1");
  const at::Tensor x = input.contiguous();
  const int64_t NC = x.size(0) * x.size(1), h = x.size(2), w = x.size(3), H = h * s, W = w * s;
  at::Tensor out = at::empty({x.size(0), x.size(1), H, W}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "bilinear_upsample_cpu", [&] {
    using acc_t = typename AccType<scalar_t>::type;
    std::vector<int64_t> x0(W), x1(W);
    std::vector<acc_t> lx(W);
    for (int64_t q = 0; q < W; ++q) source_index<acc_t>(q, static_cast<int>(s), w, x0[q], x1[q], lx[q]);
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, NC * H, grain_for(4 * W), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t p = t % H, nc = t / H;
        int64_t y0, y1;
        acc_t ly;
        source_index<acc_t>(p, static_cast<int>(s), h, y0, y1, ly);
        const scalar_t* r0 = xp + (nc * h + y0) * w;
        const scalar_t* r1 = xp + (nc * h + y1) * w;
        scalar_t* orow = op + t * W;
        const acc_t wy0 = acc_t(1) - ly;
        for (int64_t q = 0; q < W; ++q) {
          const acc_t a = lx[q], b = acc_t(1) - a;
          const acc_t top = b * static_cast<acc_t>(r0[x0[q]]) + a * static_cast<acc_t>(r0[x1[q]]);
          const acc_t bot = b * static_cast<acc_t>(r1[x0[q]]) + a * static_cast<acc_t>(r1[x1[q]]);
          orow[q] = static_cast<scalar_t>(wy0 * top + ly * bot);
        }
      }
    });
  });
  return out;
}

at::Tensor bilinear_upsample_backward_cpu(const at::Tensor& grad_out, int64_t h, int64_t w,
                                          int64_t s) {
  TORCH_CHECK(grad_out.dim() == 4 && grad_out.size(2) == h * s && grad_out.size(3) == w * s,
              "bilinear_upsample_backward: grad_out must be (N, C, s*h, s*w)");
  const at::Tensor g = grad_out.contiguous();
  const int64_t NC = g.size(0) * g.size(1), H = h * s, W = w * s;
  at::Tensor gx = at::empty({g.size(0), g.size(1), h, w}, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "bilinear_upsample_backward_cpu", [&] {
    using acc_t = typename AccType<scalar_t>::type;
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    scalar_t* out = gx.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, NC * h, grain_for(w * 9 * s * s), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t y = t % h, nc = t / h;
        const scalar_t* gplane = gp + nc * H * W;
        for (int64_t xx = 0; xx < w; ++xx) {
          out[t * w + xx] = static_cast<scalar_t>(
              grad_elem<scalar_t, acc_t>(gplane, h, w, static_cast<int>(s), y, xx));
        }
      }
    });
  });
  return gx;
}

}  // namespace bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("bilinear_upsample", &upb::bilinear::bilinear_upsample_cpu);
  m.impl("_bilinear_upsample_backward", &upb::bilinear::bilinear_upsample_backward_cpu);
}
