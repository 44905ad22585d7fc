// Pyramid fuse ("Specialize and Fuse", Eq. 2): per finest-level pixel, the logits of the coarsest
// level whose unity probability is >= tau (all coarser levels < tau), else the finest level.
//
// Levels l = 0 (coarsest) .. L-1 (finest); level l has size (h0 << l, w0 << l), so finest pixel
// (Y, X) lies in cell (Y >> (L-1-l), X >> (L-1-l)) of level l (nearest upsampling: a cell covers
// its 4^(L-1-l) finest pixels). unity[l] (N, 1, h_l, w_l) exists for l < L-1.
// Shared by the CPU and CUDA kernels; the backward is a gather (deterministic).
#pragma once

#include "../common/upb_common.h"
#include "../common/upb_convert.h"

namespace upb {
namespace pyramid_fuse {

constexpr int kMaxLevels = 8;

template <typename scalar_t>
struct Pyramid {
  const scalar_t* sem[kMaxLevels];  // (N, K, h0 << l, w0 << l)
  const scalar_t* uni[kMaxLevels];  // (N, 1, h0 << l, w0 << l), l < L-1
  int L;
  int64_t N, K, h0, w0;
  UPB_HOST_DEVICE int64_t H() const { return h0 << (L - 1); }
  UPB_HOST_DEVICE int64_t W() const { return w0 << (L - 1); }
};

// The level chosen for finest pixel (n, Y, X).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline int choose_level(const Pyramid<scalar_t>& p, acc_t tau, int64_t n,
                                        int64_t Y, int64_t X) {
  for (int l = 0; l < p.L - 1; ++l) {
    const int s = p.L - 1 - l;
    const int64_t hl = p.h0 << l, wl = p.w0 << l;
    const acc_t u = load<acc_t>(p.uni[l][(n * hl + (Y >> s)) * wl + (X >> s)]);
    if (u >= tau) return l;
  }
  return p.L - 1;
}

// The fused logit of class k at finest pixel (n, Y, X) given its level l.
template <typename scalar_t>
UPB_HOST_DEVICE inline scalar_t fused_value(const Pyramid<scalar_t>& p, int l, int64_t n,
                                            int64_t k, int64_t Y, int64_t X) {
  const int s = p.L - 1 - l;
  const int64_t hl = p.h0 << l, wl = p.w0 << l;
  return p.sem[l][((n * p.K + k) * hl + (Y >> s)) * wl + (X >> s)];
}

// d loss / d semantic[l][n, k, y, x]: the finest-pixel gradients of the cell's pixels that chose
// level l. go (N, K, H, W), level (N, H, W).
template <typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline acc_t grad_elem(const scalar_t* __restrict__ go,
                                       const int64_t* __restrict__ level, int L, int64_t N,
                                       int64_t K, int64_t H, int64_t W, int l, int64_t n,
                                       int64_t k, int64_t y, int64_t x) {
  const int s = L - 1 - l;
  const int64_t f = int64_t(1) << s;
  acc_t acc = acc_t(0);
  for (int64_t a = 0; a < f; ++a) {
    const int64_t Y = (y << s) + a;
    const int64_t* lrow = level + (n * H + Y) * W;
    const scalar_t* grow = go + ((n * K + k) * H + Y) * W;
    for (int64_t b = 0; b < f; ++b) {
      const int64_t X = (x << s) + b;
      if (lrow[X] == l) acc += load<acc_t>(grow[X]);
    }
  }
  return acc;
}

}  // namespace pyramid_fuse
}  // namespace upb
