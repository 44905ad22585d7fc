// CPU kernels for upbench::carafe.
//
// Two loop nests compute the same sums (see carafe.h):
//  * the default, row-vectorised path: each low-res row of x is nearest-expanded once
//    (expand_row) so that every tap becomes a contiguous multiply-add over an output row;
//  * the elementwise path (cpu_kernel_mode 1, used by the tests): every element comes from the
//    forward_elem / grad_x_elem / grad_mask_term functions that the CUDA kernels call.
// Both parallelise over output rows with at::parallel_for and gather in the backward: no atomics,
// deterministic results.
#include <algorithm>
#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_phase_cpu.h"
#include "../common/upb_window_cpu.h"
#include "carafe.h"

namespace upb {
namespace carafe {
namespace {

Dims make_dims(const at::Tensor& x, const at::Tensor& masks, int64_t K, int64_t s) {
  return Dims{x.size(2), x.size(3), masks.size(2), masks.size(3), static_cast<int>(K),
              static_cast<int>(s)};
}

void check_inputs(const at::Tensor& x, const at::Tensor& masks, int64_t K, int64_t G, int64_t s) {
  TORCH_CHECK(x.dim() == 4 && masks.dim() == 4, "carafe: features and masks must be 4-D");
  TORCH_CHECK(K % 2 == 1 && K >= 1, "carafe: kernel_size must be odd and positive, got ", K);
  TORCH_CHECK(G >= 1 && x.size(1) % G == 0, "carafe: channels must be divisible by group_size");
  TORCH_CHECK(s >= 1, "carafe: scale_factor must be >= 1");
  TORCH_CHECK(masks.size(0) == x.size(0) && masks.size(1) == G * K * K &&
                  masks.size(2) == x.size(2) * s && masks.size(3) == x.size(3) * s,
              "carafe: masks must have shape (N, G*K*K, s*h, s*w)");
  TORCH_CHECK(x.scalar_type() == masks.scalar_type(), "carafe: dtype mismatch");
}

// ---- forward ---------------------------------------------------------------------------------

// Channels per pass of the vectorised forward: they share every packed mask load.
constexpr int kFwdChannels = 4;

template <typename scalar_t>
void forward_rows(const scalar_t* xp, const scalar_t* mp, scalar_t* op, const Dims& d, int64_t N,
                  int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, K = d.K, r = K / 2, KK = K * K, HW = d.H * d.W, L = expanded_len(d);
  // One task = one low-res row yc of one (n, g): its s high-res rows share the expanded x rows,
  // and the group's Cg channels share the packed mask rows, kFwdChannels channels at a time.
  at::parallel_for(0, N * G * d.h, grain_for(Cg * d.s * d.W * KK), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> xs(kFwdChannels * K * L), ms(d.s * KK * d.W);
    std::vector<int64_t> xoff(K);
    for (int64_t i = 0; i < K; ++i) xoff[i] = i * L;
    const acc_t* xrows[kFwdChannels];
    scalar_t* orows[kFwdChannels];
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, ng = t / d.h, n = ng / G, g = ng % G;
      const scalar_t* mblock = mp + ng * KK * HW;
      for (int64_t a = 0; a < d.s; ++a) {
        acc_t* mrows = ms.data() + a * KK * d.W;
        pack_tap_rows<scalar_t, acc_t>(mblock, KK, HW, d.W, yc * d.s + a, mrows);
        // taps outside x are skipped whatever their mask (a non-finite mask times the zero
        // padding would be NaN)
        for (int64_t tap = 0; tap < KK; ++tap)
          zero_outside_columns(mrows + tap * d.W, d.W, tap % K, r, d.s, d.w);
      }
      const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, d.h - yc + r);
      for (int64_t c0 = g * Cg; c0 < (g + 1) * Cg; c0 += kFwdChannels) {
        const int64_t nc = std::min<int64_t>(kFwdChannels, (g + 1) * Cg - c0);
        for (int64_t cc = 0; cc < nc; ++cc) {
          const scalar_t* xplane = xp + (n * C + c0 + cc) * d.h * d.w;
          for (int64_t i = ilo; i < ihi; ++i)
            expand_row<scalar_t, acc_t>(xplane + (yc + i - r) * d.w, d, xs.data() + (cc * K + i) * L);
          xrows[cc] = xs.data() + cc * K * L;
        }
        for (int64_t a = 0; a < d.s; ++a) {
          const acc_t* w = ms.data() + a * KK * d.W;
          for (int64_t cc = 0; cc < nc; ++cc) orows[cc] = op + ((n * C + c0 + cc) * d.H + yc * d.s + a) * d.W;
          if (nc == kFwdChannels) {
            reassemble_rows<kFwdChannels>(w, xrows, xoff.data(), ilo, ihi, K, d.s, d.W, orows);
          } else {
            for (int64_t cc = 0; cc < nc; ++cc)
              reassemble_rows<1>(w, xrows + cc, xoff.data(), ilo, ihi, K, d.s, d.W, orows + cc);
          }
        }
      }
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void forward_phase_s(const scalar_t* xp, const scalar_t* mp, scalar_t* op, const Dims& d,
                     int64_t N, int64_t C, int64_t G, bool stream) {
  const int64_t Cg = C / G, KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  // One task = one low-res row yc of one (n, g): its weights are packed once for the Cg channels.
  at::parallel_for(0, N * G * d.h, grain_for(Cg * S * d.W * KK), [&](int64_t begin, int64_t end) {
    phase::ReassembleScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, ng = t / d.h, n = ng / G, g = ng % G;
      const int64_t c0 = n * C + g * Cg;
      phase::reassemble_row<S, scalar_t>(xp + c0 * hw, hw, Cg, d.h, d.w, mp + ng * KK * HW, d.K,
                                         yc, stream, op + c0 * HW, HW, sc);
    }
    if (stream) phase::stream_fence();
  });
}

// The phase-split forward (upb_phase_cpu.h) for s = 1..4.
template <typename scalar_t>
void forward_phase(const scalar_t* xp, const scalar_t* mp, scalar_t* op, const Dims& d, int64_t N,
                   int64_t C, int64_t G) {
  const bool stream = phase::stream_output(N * C * d.H * d.W * int64_t(sizeof(scalar_t)));
  phase::with_scale(d.s, [&](auto S) {
    forward_phase_s<decltype(S)::value>(xp, mp, op, d, N, C, G, stream);
  });
}
#endif

template <typename scalar_t>
void forward_elementwise(const scalar_t* xp, const scalar_t* mp, scalar_t* op, const Dims& d,
                         int64_t N, int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, KK = static_cast<int64_t>(d.K) * d.K;
  at::parallel_for(0, N * C * d.H, grain_for(d.W * KK), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, nc = t / d.H, n = nc / C, c = nc % C;
      const scalar_t* mblock = mp + (n * G + c / Cg) * KK * d.H * d.W;
      for (int64_t q = 0; q < d.W; ++q) {
        op[t * d.W + q] =
            static_cast<scalar_t>(forward_elem<scalar_t, acc_t>(xp + nc * d.h * d.w, mblock, d, p, q));
      }
    }
  });
}

// ---- backward: feature gradient --------------------------------------------------------------

template <typename scalar_t>
void grad_x_rows(const scalar_t* gp, const scalar_t* mp, scalar_t* gxp, const Dims& d, int64_t N,
                 int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, K = d.K, r = K / 2, KK = K * K, HW = d.H * d.W;
  const int64_t P = gather_pad(K, d.s), Wp = d.W + 2 * P, R = K * d.s;
  // One task = one low-res row y of one (n, g). The high-res rows whose windows read row y,
  // (i, a) -> p = (y - i + r)*s + a, have their K*K mask rows packed (padded, see gather_rows)
  // once for the group's Cg channels; per channel the grad_out rows are packed and every
  // (i, a, j) is one contiguous multiply-add (see upb_window_cpu.h).
  at::parallel_for(0, N * G * d.h, grain_for(Cg * d.w * KK * d.s * d.s), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> ms(R * K * Wp, acc_t(0)), vs(kGatherChannels * R * Wp, acc_t(0));
    std::vector<acc_t> hr(kGatherChannels * d.W);
    std::vector<const acc_t*> wrows(R);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % d.h, ng = t / d.h, n = ng / G, g = ng % G;
      const scalar_t* mblock = mp + ng * KK * HW;
      const int64_t ilo = std::max<int64_t>(0, y + r - d.h + 1), ihi = std::min<int64_t>(K, y + r + 1);
      const int64_t rows = pack_window_rows<scalar_t, acc_t>(mblock, HW, d.W, y, r, K, d.s, ilo,
                                                             ihi, P, Wp, ms.data(), wrows.data());
      // value row k = (i - ilo)*s + a of channel c: grad_out row (y - i + r)*s + a
      auto value_row = [&](int64_t c, int64_t k) {
        const int64_t i = ilo + k / d.s, a = k % d.s;
        return gp + ((n * C + c) * d.H + (y - i + r) * d.s + a) * d.W;
      };
      auto out_row = [&](int64_t c) { return gxp + ((n * C + c) * d.h + y) * d.w; };
      gather_channels<scalar_t, acc_t>(wrows.data(), rows, K, d.s, d.W, g * Cg, (g + 1) * Cg,
                                       value_row, out_row, vs.data(), hr.data());
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void grad_x_phase_s(const scalar_t* gp, const scalar_t* mp, scalar_t* gxp, const Dims& d,
                    int64_t N, int64_t C, int64_t G) {
  const int64_t Cg = C / G, KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  const phase::GatherTasks tasks(N * G, Cg, d.h, at::get_num_threads());
  // One task = a run of low-res rows of one (n, g, ring of channels), see gather_rows.
  at::parallel_for(0, tasks.count, 1, [&](int64_t begin, int64_t end) {
    phase::GatherScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      int64_t ng, c0, c1, y0, y1;
      tasks.decode(t, ng, c0, c1, y0, y1);
      const int64_t cbase = (ng / G) * C + (ng % G) * Cg;
      phase::gather_rows<S, scalar_t>(mp + ng * KK * HW, gp + cbase * HW, HW, c0, c1, d.h, d.w,
                                      d.K, y0, y1, gxp + cbase * hw, hw, sc);
    }
  });
}

template <typename scalar_t>
void grad_x_phase(const scalar_t* gp, const scalar_t* mp, scalar_t* gxp, const Dims& d, int64_t N,
                  int64_t C, int64_t G) {
  phase::with_scale(d.s, [&](auto S) {
    grad_x_phase_s<decltype(S)::value>(gp, mp, gxp, d, N, C, G);
  });
}
#endif

template <typename scalar_t>
void grad_x_elementwise(const scalar_t* gp, const scalar_t* mp, scalar_t* gxp, const Dims& d,
                        int64_t N, int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, KK = static_cast<int64_t>(d.K) * d.K;
  at::parallel_for(0, N * C * d.h, grain_for(d.w * KK * d.s * d.s), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % d.h, nc = t / d.h, n = nc / C, c = nc % C;
      const scalar_t* mblock = mp + (n * G + c / Cg) * KK * d.H * d.W;
      for (int64_t xx = 0; xx < d.w; ++xx) {
        gxp[t * d.w + xx] = static_cast<scalar_t>(
            grad_x_elem<scalar_t, acc_t>(gp + nc * d.H * d.W, mblock, d, y, xx));
      }
    }
  });
}

// ---- backward: mask gradient -----------------------------------------------------------------

// Channels per chunk of the mask gradient: the chunk's expanded x rows and grad_out rows stay in
// L1/L2 while every tap row reduces over them in registers.
constexpr int64_t kChunk = 32;

template <typename scalar_t>
void grad_mask_rows(const scalar_t* gp, const scalar_t* xp, scalar_t* gmp, const Dims& d,
                    int64_t N, int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, K = d.K, r = K / 2, KK = K * K, HW = d.H * d.W, L = expanded_len(d);
  const int64_t CH = std::min(kChunk, Cg);
  // One task = one low-res row yc of one (n, g): the mask gradient of its s high-res rows is the
  // correlation of grad_out with the expanded x rows (see correlate_rows), reduced over the
  // group's channels chunk by chunk into acc.
  at::parallel_for(0, N * G * d.h, grain_for(Cg * d.s * d.W * KK), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> xs(CH * K * L), gs(d.s * CH * d.W), acc(d.s * KK * d.W);
    std::vector<acc_t*> orows(K);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, ng = t / d.h, n = ng / G, g = ng % G;
      const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, d.h - yc + r);
      for (int64_t c0 = 0; c0 < Cg; c0 += CH) {
        const int64_t cn = std::min(CH, Cg - c0);
        for (int64_t cc = 0; cc < cn; ++cc) {
          const int64_t c = g * Cg + c0 + cc;
          const scalar_t* xplane = xp + (n * C + c) * d.h * d.w;
          for (int64_t i = ilo; i < ihi; ++i)
            expand_row<scalar_t, acc_t>(xplane + (yc + i - r) * d.w, d, xs.data() + (cc * K + i) * L);
          for (int64_t a = 0; a < d.s; ++a) {
            const scalar_t* src = gp + ((n * C + c) * d.H + yc * d.s + a) * d.W;
            acc_t* dst = gs.data() + (a * CH + cc) * d.W;
            for (int64_t q = 0; q < d.W; ++q) dst[q] = static_cast<acc_t>(src[q]);
          }
        }
        for (int64_t a = 0; a < d.s; ++a)
          for (int64_t i = ilo; i < ihi; ++i) {
            for (int64_t j = 0; j < K; ++j) orows[j] = acc.data() + (a * KK + i * K + j) * d.W;
            correlate_rows<acc_t, acc_t>(gs.data() + a * CH * d.W, d.W, xs.data() + i * L, K * L,
                                         d.s, K, cn, d.W, c0 > 0, orows.data());
          }
      }
      for (int64_t a = 0; a < d.s; ++a) {
        for (int64_t tap = 0; tap < KK; ++tap) {
          const int64_t i = tap / K, j = tap % K;
          scalar_t* out = gmp + ((ng * KK + tap) * d.H + yc * d.s + a) * d.W;
          const acc_t* arow = acc.data() + (a * KK + tap) * d.W;
          if (i < ilo || i >= ihi) {
            for (int64_t q = 0; q < d.W; ++q) out[q] = scalar_t(0);
            continue;
          }
          for (int64_t q = 0; q < d.W; ++q) out[q] = static_cast<scalar_t>(arow[q]);
          zero_outside_columns(out, d.W, j, r, d.s, d.w);
        }
      }
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void grad_mask_phase_s(const scalar_t* gp, const scalar_t* xp, scalar_t* gmp, const Dims& d,
                       int64_t N, int64_t C, int64_t G, bool stream) {
  const int64_t Cg = C / G, KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  // One task = one low-res row yc of one (n, g): the correlation of the group's grad_out rows with
  // its feature rows (upb_phase_cpu.h), reduced over the Cg channels in registers.
  at::parallel_for(0, N * G * d.h, grain_for(Cg * S * d.W * KK), [&](int64_t begin, int64_t end) {
    phase::CorrelateScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, ng = t / d.h, n = ng / G, g = ng % G;
      const int64_t c0 = n * C + g * Cg;
      phase::correlate_row<S, scalar_t>(gp + c0 * HW, HW, xp + c0 * hw, hw, Cg, d.h, d.w, d.K, yc,
                                        stream, gmp + ng * KK * HW, HW, sc);
    }
    if (stream) phase::stream_fence();
  });
}

template <typename scalar_t>
void grad_mask_phase(const scalar_t* gp, const scalar_t* xp, scalar_t* gmp, const Dims& d,
                     int64_t N, int64_t C, int64_t G) {
  const bool stream = phase::stream_output(N * G * d.K * d.K * d.H * d.W * int64_t(sizeof(scalar_t)));
  phase::with_scale(d.s, [&](auto S) {
    grad_mask_phase_s<decltype(S)::value>(gp, xp, gmp, d, N, C, G, stream);
  });
}
#endif

template <typename scalar_t>
void grad_mask_elementwise(const scalar_t* gp, const scalar_t* xp, scalar_t* gmp, const Dims& d,
                           int64_t N, int64_t C, int64_t G) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t Cg = C / G, K = d.K, KK = K * K;
  at::parallel_for(0, N * G * KK * d.H, grain_for(Cg * d.W), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, tap = (t / d.H) % KK, ng = t / (d.H * KK), n = ng / G, g = ng % G;
      for (int64_t q = 0; q < d.W; ++q) {
        acc_t acc = acc_t(0);
        for (int64_t c = g * Cg; c < (g + 1) * Cg; ++c) {
          acc += grad_mask_term<scalar_t, acc_t>(gp + (n * C + c) * d.H * d.W,
                                                 xp + (n * C + c) * d.h * d.w, d,
                                                 static_cast<int>(tap / K), static_cast<int>(tap % K), p, q);
        }
        gmp[t * d.W + q] = static_cast<scalar_t>(acc);
      }
    }
  });
}

}  // namespace

at::Tensor carafe_cpu(const at::Tensor& features, const at::Tensor& masks, int64_t K, int64_t G,
                      int64_t s) {
  check_inputs(features, masks, K, G, s);
  const at::Tensor x = features.contiguous(), m = masks.contiguous();
  const Dims d = make_dims(x, m, K, s);
  at::Tensor out = at::empty({x.size(0), x.size(1), d.H, d.W}, x.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "carafe_cpu", [&] {
    auto fn = cpu_elementwise() ? forward_elementwise<scalar_t> : forward_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    if (!cpu_elementwise() && phase::supported(s)) fn = forward_phase<scalar_t>;
#endif
    fn(x.const_data_ptr<scalar_t>(), m.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
       d, x.size(0), x.size(1), G);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> carafe_backward_cpu(const at::Tensor& grad_out,
                                                       const at::Tensor& features,
                                                       const at::Tensor& masks, int64_t K,
                                                       int64_t G, int64_t s) {
  check_inputs(features, masks, K, G, s);
  const at::Tensor x = features.contiguous(), m = masks.contiguous(), go = grad_out.contiguous();
  const Dims d = make_dims(x, m, K, s);
  TORCH_CHECK(go.sizes() == at::IntArrayRef({x.size(0), x.size(1), d.H, d.W}),
              "carafe_backward: grad_out must be (N, C, s*h, s*w)");
  at::Tensor gx = at::empty_like(x), gm = at::empty_like(m);
  if (any_empty({x, m, go})) return std::make_tuple(at::zeros_like(x), at::zeros_like(m));
  advise_huge_pages(gx);
  advise_huge_pages(gm);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "carafe_backward_cpu", [&] {
    const bool ew = cpu_elementwise();
    auto fx = ew ? grad_x_elementwise<scalar_t> : grad_x_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    if (!ew && phase::supported(s)) fx = grad_x_phase<scalar_t>;
#endif
    auto fm = ew ? grad_mask_elementwise<scalar_t> : grad_mask_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    if (!ew && phase::supported(s)) fm = grad_mask_phase<scalar_t>;
#endif
    fx(go.const_data_ptr<scalar_t>(), m.const_data_ptr<scalar_t>(), gx.mutable_data_ptr<scalar_t>(),
       d, x.size(0), x.size(1), G);
    fm(go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), gm.mutable_data_ptr<scalar_t>(),
       d, x.size(0), x.size(1), G);
  });
  return std::make_tuple(gx, gm);
}

}  // namespace carafe
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("carafe", &upb::carafe::carafe_cpu);
  m.impl("_carafe_backward", &upb::carafe::carafe_backward_cpu);
}
