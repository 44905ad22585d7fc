// Bilinear upsampling by an integer factor with half-pixel centres (align_corners=False), the
// convention of torch.nn.functional.interpolate. Shared by the CPU and CUDA kernels.
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace bilinear {

// Source row/column of output index `dst` as ATen's compiled kernel computes it: src =
// fma(1/s, dst + 0.5, -0.5), the reciprocal taken in double and rounded to acc_t (ATen's
// compute_scales_value) and the multiply-add fused (as the compiler contracts ATen's expression),
// clamped below at 0; i1 = i0 + 1 except on the last input row/column; lambda = weight of i1.
// The same rounding gives the same zero weights, so a non-finite input reaches the same outputs
// as ATen's (0·inf is NaN there too). At s = 1 ATen reads the same element twice (weights 1, 0).
template <typename acc_t>
UPB_HOST_DEVICE inline void source_index(int64_t dst, int s, int64_t in_size, int64_t& i0,
                                         int64_t& i1, acc_t& lambda) {
  if (s == 1) {
    i0 = i1 = dst;
    lambda = acc_t(0);
    return;
  }
  const acc_t scale = static_cast<acc_t>(1.0 / static_cast<double>(s));
  acc_t src = upb_fma(scale, load<acc_t>(dst) + acc_t(0.5), acc_t(-0.5));
  if (src < acc_t(0)) src = acc_t(0);
  i0 = upb_min(static_cast<int64_t>(src), in_size - 1);
  lambda = upb_min(upb_max(src - load<acc_t>(i0), acc_t(0)), acc_t(1));
  i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
}

// Weight with which output index `dst` reads input index `src_idx` along one axis.
template <typename acc_t>
UPB_HOST_DEVICE inline acc_t axis_weight(int64_t dst, int64_t src_idx, int s, int64_t in_size) {
  int64_t i0, i1;
  acc_t l;
  source_index<acc_t>(dst, s, in_size, i0, i1, l);
  acc_t wgt = acc_t(0);
  if (i0 == src_idx) wgt += acc_t(1) - l;
  if (i1 == src_idx) wgt += l;
  return wgt;
}

// One output element out[p, q] of a plane of size h x w.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t forward_elem(const scalar_t* __restrict__ plane, int64_t h, int64_t w,
                                          int s, int64_t p, int64_t q) {
  int64_t y0, y1, x0, x1;
  acc_t ly, lx;
  source_index<acc_t>(p, s, h, y0, y1, ly);
  source_index<acc_t>(q, s, w, x0, x1, lx);
  const acc_t top = (acc_t(1) - lx) * load<acc_t>(plane[y0 * w + x0]) +
                    lx * load<acc_t>(plane[y0 * w + x1]);
  const acc_t bot = (acc_t(1) - lx) * load<acc_t>(plane[y1 * w + x0]) +
                    lx * load<acc_t>(plane[y1 * w + x1]);
  return (acc_t(1) - ly) * top + ly * bot;
}

// Output indices along one axis that can read input index `src_idx`: [lo, hi).
UPB_HOST_DEVICE inline void reader_range(int64_t src_idx, int s, int64_t out_size, int64_t& lo,
                                         int64_t& hi) {
  lo = upb_max<int64_t>(0, (src_idx - 1) * s);
  hi = upb_min<int64_t>(out_size, (src_idx + 2) * s);
}

// Gradient w.r.t. one input element x[y, x], gathered from the output gradient plane (H x W).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_elem(const scalar_t* __restrict__ gplane, int64_t h, int64_t w,
                                       int s, int64_t y, int64_t x) {
  const int64_t H = h * s, W = w * s;
  int64_t plo, phi, qlo, qhi;
  reader_range(y, s, H, plo, phi);
  reader_range(x, s, W, qlo, qhi);
  acc_t acc = acc_t(0);
  for (int64_t p = plo; p < phi; ++p) {
    const acc_t wy = axis_weight<acc_t>(p, y, s, h);
    if (wy == acc_t(0)) continue;
    acc_t row = acc_t(0);
    for (int64_t q = qlo; q < qhi; ++q) {
      const acc_t wx = axis_weight<acc_t>(q, x, s, w);
      row += wx * load<acc_t>(gplane[p * W + q]);
    }
    acc += wy * row;
  }
  return acc;
}

}  // namespace bilinear
}  // namespace upb
