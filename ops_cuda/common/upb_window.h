// Row helper shared by the vectorised CPU paths of the K×K-window ops (CARAFE, SAPA).
//
// A low-resolution row (length w) is nearest-expanded by s and zero-padded by r*s = (K/2)*s on
// both sides, so that tap column j of high-resolution column q reads
//     dst[q + j*s]  ==  row[q/s + j - r]   (0 outside the row),
// the value the per-element header functions read. Every tap then becomes one contiguous
// multiply-add over an output row. `Dims` is any struct with w, W (= s*w), K and s.
#pragma once

#include "upb_common.h"
#include "upb_convert.h"

namespace upb {

template <typename Dims>
UPB_HOST_DEVICE inline int64_t expanded_len(const Dims& d) {
  return d.W + 2 * static_cast<int64_t>(d.K / 2) * d.s;
}

// The body of expand_row for a compile-time scale S (the common 1..4): the repeat has constant
// trip count, so the compiler turns it into vector shuffles instead of S scalar stores per value.
template <int S, typename scalar_t, typename acc_t>
UPB_HOST_DEVICE inline void expand_body(const scalar_t* __restrict__ row, int64_t w,
                                        acc_t* __restrict__ body) {
  for (int64_t x = 0; x < w; ++x) {
    const acc_t v = load<acc_t>(row[x]);
    for (int b = 0; b < S; ++b) body[x * S + b] = v;
  }
}

template <typename scalar_t, typename acc_t, typename Dims>
UPB_HOST_DEVICE inline void expand_row(const scalar_t* __restrict__ row, const Dims& d,
                                       acc_t* __restrict__ dst) {
  const int64_t pad = static_cast<int64_t>(d.K / 2) * d.s;
  for (int64_t k = 0; k < pad; ++k) dst[k] = acc_t(0);
  acc_t* body = dst + pad;
  switch (d.s) {  // no integer division in these hot loops
    case 1: expand_body<1>(row, d.w, body); break;
    case 2: expand_body<2>(row, d.w, body); break;
    case 3: expand_body<3>(row, d.w, body); break;
    case 4: expand_body<4>(row, d.w, body); break;
    default:
      for (int64_t x = 0; x < d.w; ++x) {
        const acc_t v = load<acc_t>(row[x]);
        for (int b = 0; b < d.s; ++b) body[x * d.s + b] = v;
      }
  }
  for (int64_t k = 0; k < pad; ++k) body[d.W + k] = acc_t(0);
}

}  // namespace upb
