// CPU kernels for upbench::offset_bilinear.
//
// Two loop nests compute the same sums (see offset_bilinear.h):
//  * the default path: one task per output row of one offset group computes the row's sampling
//    points once and applies them to every channel of the group;
//  * the elementwise path (cpu_kernel_mode 1, used by the tests): every element comes from
//    sample_at / forward_elem / grad_offset_terms / input_weights, as in the CUDA kernels.
// The input gradient is a data-dependent scatter: it is parallelised over (n, c) planes, each
// plane accumulated serially in a fixed order, so the result is deterministic without atomics.
#include <algorithm>
#include <vector>

#include "../common/upb_cpu.h"
#include "offset_bilinear.h"

namespace upb {
namespace offset_bilinear {
namespace {

void check_inputs(const at::Tensor& x, const at::Tensor& off, int64_t sh, int64_t sw) {
  TORCH_CHECK(x.dim() == 4 && off.dim() == 4, "offset_bilinear: x and offsets must be 4-D");
  TORCH_CHECK(sh >= 1 && sw >= 1, "offset_bilinear: scale factors must be >= 1");
  const int64_t C = x.size(1), twoM = off.size(1);
  TORCH_CHECK(twoM == 2 || twoM == 2 * C,
              "offset_bilinear: offsets must have 2 (M = 1) or 2*C (M = C) channels");
  TORCH_CHECK(off.size(0) == x.size(0) && off.size(2) == x.size(2) * sh &&
                  off.size(3) == x.size(3) * sw,
              "offset_bilinear: offsets must have shape (N, 2M, sh*h, sw*w)");
  TORCH_CHECK(x.scalar_type() == off.scalar_type(), "offset_bilinear: dtype mismatch");
}

Dims make_dims(const at::Tensor& x, const at::Tensor& off, int64_t sh, int64_t sw) {
  return Dims{x.size(1), off.size(1) / 2, x.size(2), x.size(3), off.size(2), off.size(3),
              static_cast<int>(sh), static_cast<int>(sw)};
}

// Channels of offset group m: [c_lo, c_hi).
inline void group_channels(const Dims& d, int64_t m, int64_t& c_lo, int64_t& c_hi) {
  if (d.M == 1) {
    c_lo = 0;
    c_hi = d.C;
  } else {
    c_lo = m;
    c_hi = m + 1;
  }
}

// ---- forward ---------------------------------------------------------------------------------

template <typename scalar_t>
void forward_rows(const scalar_t* xp, const scalar_t* op_, scalar_t* out, const Dims& d,
                  int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, per = d.C / d.M;
  at::parallel_for(0, N * d.M * d.H, grain_for(d.W * per * 4), [&](int64_t begin, int64_t end) {
    std::vector<int64_t> i00(d.W), i01(d.W), i10(d.W), i11(d.W);
    std::vector<acc_t> w00(d.W), w01(d.W), w10(d.W), w11(d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nm = t / d.H, n = nm / d.M, m = nm % d.M;
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      for (int64_t q = 0; q < d.W; ++q) {
        const Sample<acc_t> s = sample_at<scalar_t, acc_t>(obase, d, m, p, q);
        int64_t idx[4];
        acc_t wgt[4];
        input_weights<acc_t>(d, s, idx, wgt);
        i00[q] = idx[0]; i01[q] = idx[1]; i10[q] = idx[2]; i11[q] = idx[3];
        w00[q] = wgt[0]; w01[q] = wgt[1]; w10[q] = wgt[2]; w11[q] = wgt[3];
      }
      int64_t c_lo, c_hi;
      group_channels(d, m, c_lo, c_hi);
      for (int64_t c = c_lo; c < c_hi; ++c) {
        const scalar_t* plane = xp + (n * d.C + c) * hw;
        scalar_t* orow = out + ((n * d.C + c) * d.H + p) * d.W;
        for (int64_t q = 0; q < d.W; ++q) {
          const acc_t v = w00[q] * static_cast<acc_t>(plane[i00[q]]) +
                          w01[q] * static_cast<acc_t>(plane[i01[q]]) +
                          w10[q] * static_cast<acc_t>(plane[i10[q]]) +
                          w11[q] * static_cast<acc_t>(plane[i11[q]]);
          orow[q] = static_cast<scalar_t>(v);
        }
      }
    }
  });
}

template <typename scalar_t>
void forward_elementwise(const scalar_t* xp, const scalar_t* op_, scalar_t* out, const Dims& d,
                         int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w;
  at::parallel_for(0, N * d.C * d.H, grain_for(d.W * 8), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nc = t / d.H, n = nc / d.C, c = nc % d.C;
      const int64_t m = d.M == 1 ? 0 : c;
      for (int64_t q = 0; q < d.W; ++q) {
        const Sample<acc_t> s = sample_at<scalar_t, acc_t>(op_ + n * 2 * d.M * HW, d, m, p, q);
        out[t * d.W + q] = static_cast<scalar_t>(forward_elem<scalar_t, acc_t>(xp + nc * hw, d, s));
      }
    }
  });
}

// ---- backward: offset gradient (gather over the group's channels) -----------------------------

template <typename scalar_t>
void grad_offset(const scalar_t* go, const scalar_t* xp, const scalar_t* op_, scalar_t* gop,
                 const Dims& d, int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w, per = d.C / d.M;
  const bool ew = cpu_elementwise();
  at::parallel_for(0, N * d.M * d.H, grain_for(d.W * per * 8), [&](int64_t begin, int64_t end) {
    std::vector<Sample<acc_t>> smp(d.W);
    std::vector<acc_t> gy(d.W), gx(d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nm = t / d.H, n = nm / d.M, m = nm % d.M;
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      for (int64_t q = 0; q < d.W; ++q) smp[q] = sample_at<scalar_t, acc_t>(obase, d, m, p, q);
      std::fill(gy.begin(), gy.end(), acc_t(0));
      std::fill(gx.begin(), gx.end(), acc_t(0));
      int64_t c_lo, c_hi;
      group_channels(d, m, c_lo, c_hi);
      if (ew) {  // the CUDA kernel's order: per element, channels innermost
        for (int64_t q = 0; q < d.W; ++q)
          for (int64_t c = c_lo; c < c_hi; ++c)
            grad_offset_terms<scalar_t, acc_t>(
                xp + (n * d.C + c) * hw, d, smp[q],
                static_cast<acc_t>(go[((n * d.C + c) * d.H + p) * d.W + q]), gy[q], gx[q]);
      } else {
        for (int64_t c = c_lo; c < c_hi; ++c) {
          const scalar_t* plane = xp + (n * d.C + c) * hw;
          const scalar_t* grow = go + ((n * d.C + c) * d.H + p) * d.W;
          for (int64_t q = 0; q < d.W; ++q)
            grad_offset_terms<scalar_t, acc_t>(plane, d, smp[q], static_cast<acc_t>(grow[q]),
                                               gy[q], gx[q]);
        }
      }
      scalar_t* oy = gop + (n * 2 * d.M + 2 * m) * HW + p * d.W;
      scalar_t* ox = oy + HW;
      for (int64_t q = 0; q < d.W; ++q) {
        oy[q] = static_cast<scalar_t>(gy[q]);
        ox[q] = static_cast<scalar_t>(gx[q]);
      }
    }
  });
}

// ---- backward: input gradient (serial scatter per plane, deterministic) -----------------------

template <typename scalar_t>
void grad_x(const scalar_t* go, const scalar_t* op_, scalar_t* gxp, const Dims& d, int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t HW = d.H * d.W, hw = d.h * d.w;
  at::parallel_for(0, N * d.C, grain_for(HW * 12), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(hw);
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / d.C, c = nc % d.C, m = d.M == 1 ? 0 : c;
      const scalar_t* obase = op_ + n * 2 * d.M * HW;
      const scalar_t* gplane = go + nc * HW;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t p = 0; p < d.H; ++p) {
        for (int64_t q = 0; q < d.W; ++q) {
          const acc_t g = static_cast<acc_t>(gplane[p * d.W + q]);
          const Sample<acc_t> s = sample_at<scalar_t, acc_t>(obase, d, m, p, q);
          int64_t idx[4];
          acc_t wgt[4];
          input_weights<acc_t>(d, s, idx, wgt);
          for (int k = 0; k < 4; ++k) acc[idx[k]] += wgt[k] * g;
        }
      }
      scalar_t* out = gxp + nc * hw;
      for (int64_t i = 0; i < hw; ++i) out[i] = static_cast<scalar_t>(acc[i]);
    }
  });
}

}  // namespace

at::Tensor offset_bilinear_cpu(const at::Tensor& x_, const at::Tensor& offsets, int64_t sh,
                               int64_t sw) {
  check_inputs(x_, offsets, sh, sw);
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous();
  const Dims d = make_dims(x, off, sh, sw);
  at::Tensor out = at::empty({x.size(0), d.C, d.H, d.W}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "offset_bilinear_cpu", [&] {
    auto fn = cpu_elementwise() ? forward_elementwise<scalar_t> : forward_rows<scalar_t>;
    fn(x.const_data_ptr<scalar_t>(), off.const_data_ptr<scalar_t>(),
       out.mutable_data_ptr<scalar_t>(), d, x.size(0));
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> offset_bilinear_backward_cpu(const at::Tensor& grad_out,
                                                                const at::Tensor& x_,
                                                                const at::Tensor& offsets,
                                                                int64_t sh, int64_t sw) {
  check_inputs(x_, offsets, sh, sw);
  const at::Tensor x = x_.contiguous(), off = offsets.contiguous(), go = grad_out.contiguous();
  const Dims d = make_dims(x, off, sh, sw);
  TORCH_CHECK(go.sizes() == at::IntArrayRef({x.size(0), d.C, d.H, d.W}) &&
                  go.scalar_type() == x.scalar_type(),
              "_offset_bilinear_backward: grad_out must be (N, C, sh*h, sw*w) of x's dtype");
  at::Tensor gx = at::empty_like(x), goff = at::empty_like(off);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "offset_bilinear_backward_cpu", [&] {
    grad_x<scalar_t>(go.const_data_ptr<scalar_t>(), off.const_data_ptr<scalar_t>(),
                     gx.mutable_data_ptr<scalar_t>(), d, x.size(0));
    grad_offset<scalar_t>(go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
                          off.const_data_ptr<scalar_t>(), goff.mutable_data_ptr<scalar_t>(), d,
                          x.size(0));
  });
  return std::make_tuple(gx, goff);
}

}  // namespace offset_bilinear
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("offset_bilinear", &upb::offset_bilinear::offset_bilinear_cpu);
  m.impl("_offset_bilinear_backward", &upb::offset_bilinear::offset_bilinear_backward_cpu);
}
