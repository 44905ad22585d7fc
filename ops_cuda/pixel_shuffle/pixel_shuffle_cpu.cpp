// CPU kernels for upbench::pixel_shuffle: one task per output row (forward) or per input row
// (backward), index math from pixel_shuffle.h. Pure gathers, deterministic.
#include "../common/upb_cpu.h"
#include "pixel_shuffle.h"

namespace upb {
namespace pixel_shuffle {

at::Tensor pixel_shuffle_cpu(const at::Tensor& input, int64_t s) {
  TORCH_CHECK(input.dim() == 4 && s >= 1 && input.size(1) % (s * s) == 0,
              "pixel_shuffle: x must be (N, C*s*s, h, w)");
  const at::Tensor x = input.contiguous();
  const int64_t N = x.size(0), C = x.size(1) / (s * s), h = x.size(2), w = x.size(3);
  const int64_t H = h * s, W = w * s;
  at::Tensor out = at::empty({N, C, H, W}, x.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pixel_shuffle_cpu", [&] {
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, N * C * H, grain_for(W), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t oh = t % H, nc = t / H, n = nc / C, c = nc % C;
        scalar_t* orow = op + t * W;
        for (int64_t j = 0; j < s; ++j) {
          // source_of_output for ow = j is the start of this sub-column's input row; successive
          // ow = j + s*k read successive input columns.
          const scalar_t* src = xp + source_of_output(n, c, oh, j, C, h, w, static_cast<int>(s));
          for (int64_t k = 0; k < w; ++k) orow[k * s + j] = src[k];
        }
      }
    });
  });
  return out;
}

at::Tensor pixel_shuffle_backward_cpu(const at::Tensor& grad_out, int64_t s) {
  TORCH_CHECK(grad_out.dim() == 4 && s >= 1 && grad_out.size(2) % s == 0 &&
                  grad_out.size(3) % s == 0,
              "pixel_shuffle_backward: grad_out must be (N, C, s*h, s*w)");
  const at::Tensor g = grad_out.contiguous();
  const int64_t N = g.size(0), C = g.size(1), h = g.size(2) / s, w = g.size(3) / s;
  const int64_t Ci = C * s * s;
  at::Tensor gx = at::empty({N, Ci, h, w}, g.options());
  advise_huge_pages(gx);
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "pixel_shuffle_backward_cpu", [&] {
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    scalar_t* op = gx.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, N * Ci * h, grain_for(w), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t y = t % h, nci = t / h, n = nci / Ci, ci = nci % Ci;
        const scalar_t* src = gp + output_of_source(n, ci, y, 0, C, h, w, static_cast<int>(s));
        scalar_t* row = op + t * w;
        for (int64_t k = 0; k < w; ++k) row[k] = src[k * s];
      }
    });
  });
  return gx;
}

}  // namespace pixel_shuffle
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("pixel_shuffle", &upb::pixel_shuffle::pixel_shuffle_cpu);
  m.impl("_pixel_shuffle_backward", &upb::pixel_shuffle::pixel_shuffle_backward_cpu);
}
