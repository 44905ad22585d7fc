// Offset bilinear sampling, shared by the CPU and CUDA kernels:
//
//   out[n, c, p, q] = bilinear(x[n, c], base(p, sh) + dy[n, m(c), p, q], base(q, sw) + dx[...])
//
// in low-res pixel units (pixel centres at integers), the position clamped to [0, h-1] x [0, w-1]
// (grid_sample's border padding). base(p, s) = p / s with align_corners (LaU, corner-aligned)
// and (p + 0.5) / s - 0.5 without (half-pixel centres, DySample / F.interpolate). offsets is
// (N, 2M, H, W): channel 2m holds dy (rows), 2m+1 holds dx (columns) of offset group m; the C
// channels form M equal groups, m(c) = c / (C / M) (M = 1: shared, M = C: per channel). The
// offset gradient is zero where the clamp is active (position strictly
// outside the map). At integer positions the derivative is one-sided with i1 = i0 + 1, as ATen's
// grid sampler (i0 = min(floor(pos), size - 2) so that the last row/column uses its left
// neighbour), unlike the official kernel which drops the far neighbours there.
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace offset_bilinear {

struct Dims {
  int64_t C, M;   // channels and offset groups (M divides C)
  int64_t h, w;   // low-resolution input size
  int64_t H, W;   // output size (sh*h, sw*w)
  int sh, sw;     // vertical and horizontal scale
  bool align;     // corner-aligned base positions (p / s) or half-pixel ((p + 0.5) / s - 0.5)
};

// The offset group of channel c.
UPB_HOST_DEVICE inline int64_t group_of(const Dims& d, int64_t c) { return c / (d.C / d.M); }

// One axis: source indices i0, i1 = min(i0 + 1, size - 1), weight lam of i1, and the derivative
// of the clamped position w.r.t. the offset (1 inside the map, 0 where the clamp is active).
template <typename acc_t>
struct Axis {
  int64_t i0, i1;
  acc_t lam, dpos;
};

template <typename acc_t>
UPB_HOST_DEVICE inline Axis<acc_t> axis_sample(int64_t dst, int s, bool align, acc_t delta,
                                               int64_t size) {
  Axis<acc_t> a;
  const acc_t base = align ? load<acc_t>(dst) / load<acc_t>(s)
                           : (load<acc_t>(dst) + acc_t(0.5)) / load<acc_t>(s) - acc_t(0.5);
  acc_t pos = base + delta;
  const acc_t hi = load<acc_t>(size - 1);
  a.dpos = (pos >= acc_t(0) && pos <= hi) ? acc_t(1) : acc_t(0);
  pos = pos < acc_t(0) ? acc_t(0) : (pos > hi ? hi : pos);
  // pos >= 0 here (truncation is floor), or NaN: a NaN position must not become an index (the
  // cast would be undefined); it takes i0 = 0 and reaches the output through lam, as NaN
  int64_t i0 = pos >= acc_t(0) ? static_cast<int64_t>(pos) : int64_t(0);
  const int64_t top = size >= 2 ? size - 2 : 0;
  i0 = i0 > top ? top : i0;
  a.i0 = i0;
  a.i1 = i0 + 1 < size ? i0 + 1 : size - 1;
  a.lam = pos - load<acc_t>(i0);
  return a;
}

template <typename acc_t>
struct Sample {
  Axis<acc_t> y, x;
};

// Sampling point of output (p, q) given its offsets.
template <typename acc_t>
UPB_HOST_DEVICE inline Sample<acc_t> make_sample(const Dims& d, int64_t p, int64_t q, acc_t dy,
                                                 acc_t dx) {
  Sample<acc_t> s;
  s.y = axis_sample<acc_t>(p, d.sh, d.align, dy, d.h);
  s.x = axis_sample<acc_t>(q, d.sw, d.align, dx, d.w);
  return s;
}

// Sampling point of output (p, q) of offset group m; obase points at sample n's offsets.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline Sample<acc_t> sample_at(const scalar_t* __restrict__ obase, const Dims& d,
                                               int64_t m, int64_t p, int64_t q) {
  const int64_t HW = d.H * d.W, idx = p * d.W + q;
  return make_sample<acc_t>(d, p, q, load<acc_t>(obase[(2 * m) * HW + idx]),
                            load<acc_t>(obase[(2 * m + 1) * HW + idx]));
}

// The bilinear value of one plane (h x w) at a sample: the weighted sum of the four corners
// with the weights of input_weights (as grid_sample and the CPU row kernels), so NaN and inf in
// x spread identically on every path: a non-finite corner reaches the output even with weight 0.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t forward_elem(const scalar_t* __restrict__ plane, const Dims& d,
                                          const Sample<acc_t>& s) {
  const acc_t v00 = load<acc_t>(plane[s.y.i0 * d.w + s.x.i0]);
  const acc_t v01 = load<acc_t>(plane[s.y.i0 * d.w + s.x.i1]);
  const acc_t v10 = load<acc_t>(plane[s.y.i1 * d.w + s.x.i0]);
  const acc_t v11 = load<acc_t>(plane[s.y.i1 * d.w + s.x.i1]);
  const acc_t ly = s.y.lam, lx = s.x.lam;
  return (acc_t(1) - ly) * (acc_t(1) - lx) * v00 + (acc_t(1) - ly) * lx * v01 +
         ly * (acc_t(1) - lx) * v10 + ly * lx * v11;
}

// Adds go * d(value)/d(dy) and go * d(value)/d(dx) of one plane at a sample.
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void grad_offset_terms(const scalar_t* __restrict__ plane, const Dims& d,
                                              const Sample<acc_t>& s, acc_t go, acc_t& gdy,
                                              acc_t& gdx) {
  const acc_t v00 = load<acc_t>(plane[s.y.i0 * d.w + s.x.i0]);
  const acc_t v01 = load<acc_t>(plane[s.y.i0 * d.w + s.x.i1]);
  const acc_t v10 = load<acc_t>(plane[s.y.i1 * d.w + s.x.i0]);
  const acc_t v11 = load<acc_t>(plane[s.y.i1 * d.w + s.x.i1]);
  const acc_t top = v00 + s.x.lam * (v01 - v00), bot = v10 + s.x.lam * (v11 - v10);
  const acc_t left = v00 + s.y.lam * (v10 - v00), right = v01 + s.y.lam * (v11 - v01);
  gdy += go * s.y.dpos * (bot - top);
  gdx += go * s.x.dpos * (right - left);
}

// The four (index, weight) pairs through which an output gradient reaches the input plane:
// idx[k] = y*w + x, wgt[k] its bilinear weight (corners may coincide at the map's last row or
// column; their weights then add up).
template <typename acc_t>
UPB_HOST_DEVICE inline void input_weights(const Dims& d, const Sample<acc_t>& s, int64_t idx[4],
                                          acc_t wgt[4]) {
  const acc_t ly = s.y.lam, lx = s.x.lam;
  idx[0] = s.y.i0 * d.w + s.x.i0;
  idx[1] = s.y.i0 * d.w + s.x.i1;
  idx[2] = s.y.i1 * d.w + s.x.i0;
  idx[3] = s.y.i1 * d.w + s.x.i1;
  wgt[0] = (acc_t(1) - ly) * (acc_t(1) - lx);
  wgt[1] = (acc_t(1) - ly) * lx;
  wgt[2] = ly * (acc_t(1) - lx);
  wgt[3] = ly * lx;
}

}  // namespace offset_bilinear
}  // namespace upb
