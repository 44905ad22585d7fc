// CPU kernels for upbench::sapa_similarity.
//
// Two loop nests compute the same sums (see sapa_similarity.h):
//  * the default, row-vectorised path: each low-res key row is nearest-expanded once per channel
//    (expand_row) so that every tap becomes a contiguous multiply-add over a query row;
//  * the elementwise path (cpu_kernel_mode 1, used by the tests): every element comes from the
//    forward_elem / grad_query_elem / grad_key_elem functions that the CUDA kernels call.
// Both parallelise over rows with at::parallel_for and gather in the backward: no atomics,
// deterministic results.
#include <algorithm>
#include <vector>

#include "../common/upb_cpu.h"
#include "../common/upb_phase_cpu.h"
#include "../common/upb_window_cpu.h"
#include "sapa_similarity.h"

#if defined(__GNUC__)
#define UPB_ALWAYS_INLINE __attribute__((always_inline))
#else
#define UPB_ALWAYS_INLINE
#endif

namespace upb {
namespace sapa {
namespace {

void check_inputs(const at::Tensor& query, const at::Tensor& key, int64_t K, int64_t s) {
  TORCH_CHECK(query.dim() == 4 && key.dim() == 4, "sapa_similarity: query and key must be 4-D");
  TORCH_CHECK(K % 2 == 1 && K >= 1, "sapa_similarity: kernel_size must be odd and positive, got ", K);
  TORCH_CHECK(s >= 1, "sapa_similarity: scale_factor must be >= 1");
  TORCH_CHECK(query.size(0) == key.size(0) && query.size(1) == key.size(1) &&
                  query.size(2) == key.size(2) * s && query.size(3) == key.size(3) * s,
              "sapa_similarity: query must have shape (N, d, s*h, s*w) for key (N, d, h, w)");
  TORCH_CHECK(query.scalar_type() == key.scalar_type(), "sapa_similarity: dtype mismatch");
}

Dims make_dims(const at::Tensor& key, int64_t K, int64_t s) {
  return Dims{key.size(1), key.size(2), key.size(3), key.size(2) * s, key.size(3) * s,
              static_cast<int>(K), static_cast<int>(s)};
}

// ---- forward ---------------------------------------------------------------------------------


// The K expanded key rows (see expand_row) around one low-res row, for every channel, kept as a
// ring: moving from row yc to yc + 1 of the same sample expands only the one new row. Tap row i
// of channel c starts at data() + c*K*L + off[i].
template <typename scalar_t, typename acc_t>
struct KeyRing {
  KeyRing(const scalar_t* kp_, const Dims& d_)
      : kp(kp_), d(d_), L(expanded_len(d_)), buf(d_.d * d_.K * L), off(d_.K) {}

  void move_to(int64_t n_, int64_t yc_) {
    const int64_t K = d.K, r = K / 2;
    if (n_ == n && yc_ == yc + 1) {
      expand(yc_ + r);
    } else {
      for (int64_t y = yc_ - r; y <= yc_ + r; ++y) expand_in(n_, y);
    }
    n = n_;
    yc = yc_;
    for (int64_t i = 0; i < K; ++i) off[i] = slot(yc + i - r) * L;
  }
  const acc_t* data() const { return buf.data(); }

  const scalar_t* kp;
  const Dims& d;
  int64_t L;
  std::vector<acc_t> buf;
  std::vector<int64_t> off;
  int64_t n = -1, yc = -1;

 private:
  int64_t slot(int64_t y) const { return ((y % d.K) + d.K) % d.K; }
  void expand(int64_t y) { expand_in(n, y); }
  void expand_in(int64_t n_, int64_t y) {
    if (y < 0 || y >= d.h) return;  // taps of rows outside the map are skipped by the callers
    const int64_t K = d.K, hw = d.h * d.w;
    for (int64_t c = 0; c < d.d; ++c)
      expand_row<scalar_t, acc_t>(kp + (n_ * d.d + c) * hw + y * d.w, d,
                                  buf.data() + (c * K + slot(y)) * L);
  }
};

template <typename scalar_t, typename acc_t>
UPB_ALWAYS_INLINE inline void sim_row_impl(const acc_t* qs, const acc_t* ks, const int64_t* off,
                                           scalar_t* out, const Dims& d, int64_t yc) {
  const int64_t K = d.K, r = K / 2, HW = d.H * d.W, L = expanded_len(d);
  for (int64_t i = 0; i < K; ++i) {
    const int64_t y = yc + i - r;
    const bool valid = y >= 0 && y < d.h;
    std::vector<scalar_t*> orows(K);
    for (int64_t j = 0; j < K; ++j) orows[j] = out + (i * K + j) * HW;
    if (!valid) {
      for (int64_t j = 0; j < K; ++j)
        for (int64_t q = 0; q < d.W; ++q) orows[j][q] = scalar_t(0);
      continue;
    }
    correlate_rows<scalar_t, acc_t>(qs, d.W, ks + off[i], K * L, d.s, K, d.d, d.W, false,
                                    orows.data());
    for (int64_t j = 0; j < K; ++j) zero_outside_columns(orows[j], d.W, j, r, d.s, d.w);
  }
}

// Non-template entry points (the library is built with -march=native).
void sim_row(const float* qs, const float* ks, const int64_t* off, float* out,
                            const Dims& d, int64_t yc) {
  sim_row_impl<float, float>(qs, ks, off, out, d, yc);
}
void sim_row(const double* qs, const double* ks, const int64_t* off, double* out,
                            const Dims& d, int64_t yc) {
  sim_row_impl<double, double>(qs, ks, off, out, d, yc);
}

template <typename scalar_t>
void forward_rows(const scalar_t* qp, const scalar_t* kp, scalar_t* op, const Dims& d, int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, HW = d.H * d.W;
  // One task = one low-res row yc of one sample: its s query rows share the expanded key rows.
  // Each (query row, tap, block of kBlock columns) reduces over the d channels in registers.
  at::parallel_for(0, N * d.h, grain_for(d.d * KK * d.s * d.W), [&](int64_t begin, int64_t end) {
    // qs packs the d query rows of one output row contiguously: the planes are H*W apart, often
    // a multiple of 4 KiB, and reading them in place thrashes one L1 set.
    KeyRing<scalar_t, acc_t> ring(kp, d);
    std::vector<acc_t> qs(d.d * d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, n = t / d.h;
      ring.move_to(n, yc);
      for (int64_t a = 0; a < d.s; ++a) {
        const int64_t p = yc * d.s + a;
        for (int64_t c = 0; c < d.d; ++c) {
          const scalar_t* src = qp + (n * d.d + c) * HW + p * d.W;
          for (int64_t q = 0; q < d.W; ++q) qs[c * d.W + q] = static_cast<acc_t>(src[q]);
        }
        sim_row(qs.data(), ring.data(), ring.off.data(), op + (n * KK * d.H + p) * d.W, d, yc);
      }
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void forward_phase_s(const scalar_t* qp, const scalar_t* kp, scalar_t* op, const Dims& d,
                     int64_t N, bool stream) {
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  // One task = one low-res row yc of one sample: the correlation of its query rows with the key
  // rows around it (upb_phase_cpu.h), reduced over the d channels in registers.
  at::parallel_for(0, N * d.h, grain_for(d.d * KK * S * d.W), [&](int64_t begin, int64_t end) {
    phase::CorrelateScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, n = t / d.h;
      phase::correlate_row<S, scalar_t>(qp + n * d.d * HW, HW, kp + n * d.d * hw, hw, d.d, d.h,
                                        d.w, d.K, yc, stream, op + n * KK * HW, HW, sc);
    }
    if (stream) phase::stream_fence();
  });
}

// The phase-split forward (upb_phase_cpu.h) for s = 1..4.
template <typename scalar_t>
void forward_phase(const scalar_t* qp, const scalar_t* kp, scalar_t* op, const Dims& d, int64_t N) {
  const bool stream = phase::stream_output(N * d.K * d.K * d.H * d.W * int64_t(sizeof(scalar_t)));
  phase::with_scale(d.s, [&](auto S) {
    forward_phase_s<decltype(S)::value>(qp, kp, op, d, N, stream);
  });
}
#endif

template <typename scalar_t>
void forward_elementwise(const scalar_t* qp, const scalar_t* kp, scalar_t* op, const Dims& d,
                         int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  at::parallel_for(0, N * KK * d.H, grain_for(d.W * d.d), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, tap = (t / d.H) % KK, n = t / (d.H * KK);
      for (int64_t q = 0; q < d.W; ++q) {
        op[t * d.W + q] = static_cast<scalar_t>(forward_elem<scalar_t, acc_t>(
            qp + n * d.d * d.H * d.W, kp + n * d.d * d.h * d.w, d, static_cast<int>(tap / d.K),
            static_cast<int>(tap % d.K), p, q));
      }
    }
  });
}

// ---- backward: query gradient ----------------------------------------------------------------

template <typename scalar_t>
void grad_query_rows(const scalar_t* gp, const scalar_t* kp, scalar_t* gqp, const Dims& d,
                     int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t K = d.K, r = K / 2, KK = K * K, HW = d.H * d.W, L = expanded_len(d);
  // One task = one low-res row yc of one sample; each (channel, query row, column block) reduces
  // over the in-range taps in registers.
  at::parallel_for(0, N * d.h, grain_for(d.d * KK * d.s * d.W), [&](int64_t begin, int64_t end) {
    KeyRing<scalar_t, acc_t> ring(kp, d);
    const acc_t* ks = ring.data();
    std::vector<acc_t> gs(KK * d.W);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, n = t / d.h;
      const scalar_t* gbase = gp + n * KK * HW;
      ring.move_to(n, yc);
      const int64_t ilo = std::max<int64_t>(0, r - yc), ihi = std::min<int64_t>(K, d.h - yc + r);
      for (int64_t a = 0; a < d.s; ++a) {
        const int64_t p = yc * d.s + a;
        pack_tap_rows<scalar_t, acc_t>(gbase, KK, HW, d.W, p, gs.data());
        // out-of-map taps are constant 0: their grad_sim must not reach the query gradient
        for (int64_t tap = 0; tap < KK; ++tap)
          zero_outside_columns(gs.data() + tap * d.W, d.W, tap % K, r, d.s, d.w);
        for (int64_t c = 0; c < d.d; ++c)
          reassemble_row<scalar_t, acc_t>(gs.data(), ks + c * K * L, ring.off.data(), ilo, ihi,
                                          K, d.s, d.W, gqp + (n * d.d + c) * HW + p * d.W);
      }
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void grad_query_phase_s(const scalar_t* gp, const scalar_t* kp, scalar_t* gqp, const Dims& d,
                        int64_t N, bool stream) {
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  // One task = one low-res row yc of one sample: the similarity gradient reassembles the key rows
  // (upb_phase_cpu.h), its rows packed once for the d channels.
  at::parallel_for(0, N * d.h, grain_for(d.d * KK * S * d.W), [&](int64_t begin, int64_t end) {
    phase::ReassembleScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t yc = t % d.h, n = t / d.h;
      phase::reassemble_row<S, scalar_t>(kp + n * d.d * hw, hw, d.d, d.h, d.w, gp + n * KK * HW,
                                         d.K, yc, stream, gqp + n * d.d * HW, HW, sc);
    }
    if (stream) phase::stream_fence();
  });
}

template <typename scalar_t>
void grad_query_phase(const scalar_t* gp, const scalar_t* kp, scalar_t* gqp, const Dims& d,
                      int64_t N) {
  const bool stream = phase::stream_output(N * d.d * d.H * d.W * int64_t(sizeof(scalar_t)));
  phase::with_scale(d.s, [&](auto S) {
    grad_query_phase_s<decltype(S)::value>(gp, kp, gqp, d, N, stream);
  });
}
#endif

template <typename scalar_t>
void grad_query_elementwise(const scalar_t* gp, const scalar_t* kp, scalar_t* gqp, const Dims& d,
                            int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  at::parallel_for(0, N * d.d * d.H, grain_for(d.W * KK), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t p = t % d.H, c = (t / d.H) % d.d, n = t / (d.H * d.d);
      for (int64_t q = 0; q < d.W; ++q) {
        gqp[t * d.W + q] = static_cast<scalar_t>(grad_query_elem<scalar_t, acc_t>(
            gp + n * KK * d.H * d.W, kp + n * d.d * d.h * d.w, d, c, p, q));
      }
    }
  });
}

// ---- backward: key gradient ------------------------------------------------------------------

template <typename scalar_t>
void grad_key_rows(const scalar_t* gp, const scalar_t* qp, scalar_t* gkp, const Dims& d,
                   int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t K = d.K, r = K / 2, KK = K * K, HW = d.H * d.W;
  const int64_t P = gather_pad(K, d.s), Wp = d.W + 2 * P, R = K * d.s;
  // One task = one low-res row y of one sample. The high-res rows whose windows read key row y,
  // (i, a) -> p = (y - i + r)*s + a, have their K*K grad_sim rows packed (padded, see
  // gather_rows) once for the d channels; per channel the query rows are packed and every
  // (i, a, j) is one contiguous multiply-add (see upb_window_cpu.h).
  at::parallel_for(0, N * d.h, grain_for(d.d * d.w * KK * d.s * d.s), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> gs(R * K * Wp, acc_t(0)), vs(kGatherChannels * R * Wp, acc_t(0));
    std::vector<acc_t> hr(kGatherChannels * d.W);
    std::vector<const acc_t*> wrows(R);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % d.h, n = t / d.h;
      const scalar_t* gbase = gp + n * KK * HW;
      const int64_t ilo = std::max<int64_t>(0, y + r - d.h + 1), ihi = std::min<int64_t>(K, y + r + 1);
      const int64_t rows = pack_window_rows<scalar_t, acc_t>(gbase, HW, d.W, y, r, K, d.s, ilo,
                                                             ihi, P, Wp, gs.data(), wrows.data());
      // value row k = (i - ilo)*s + a of channel c: query row (y - i + r)*s + a
      auto value_row = [&](int64_t c, int64_t k) {
        const int64_t i = ilo + k / d.s, a = k % d.s;
        return qp + ((n * d.d + c) * d.H + (y - i + r) * d.s + a) * d.W;
      };
      auto out_row = [&](int64_t c) { return gkp + ((n * d.d + c) * d.h + y) * d.w; };
      gather_channels<scalar_t, acc_t>(wrows.data(), rows, K, d.s, d.W, 0, d.d, value_row,
                                       out_row, vs.data(), hr.data());
    }
  });
}

#if UPB_PHASE_KERNELS
template <int S, typename scalar_t>
void grad_key_phase_s(const scalar_t* gp, const scalar_t* qp, scalar_t* gkp, const Dims& d,
                      int64_t N) {
  const int64_t KK = static_cast<int64_t>(d.K) * d.K, hw = d.h * d.w, HW = d.H * d.W;
  const phase::GatherTasks tasks(N, d.d, d.h, at::get_num_threads());
  // One task = a run of key rows of one (sample, ring of channels): the similarity gradient
  // gathers the query back (gather_rows).
  at::parallel_for(0, tasks.count, 1, [&](int64_t begin, int64_t end) {
    phase::GatherScratch<scalar_t> sc;
    for (int64_t t = begin; t < end; ++t) {
      int64_t n, c0, c1, y0, y1;
      tasks.decode(t, n, c0, c1, y0, y1);
      phase::gather_rows<S, scalar_t>(gp + n * KK * HW, qp + n * d.d * HW, HW, c0, c1, d.h, d.w,
                                      d.K, y0, y1, gkp + n * d.d * hw, hw, sc);
    }
  });
}

template <typename scalar_t>
void grad_key_phase(const scalar_t* gp, const scalar_t* qp, scalar_t* gkp, const Dims& d,
                    int64_t N) {
  phase::with_scale(d.s, [&](auto S) { grad_key_phase_s<decltype(S)::value>(gp, qp, gkp, d, N); });
}
#endif

template <typename scalar_t>
void grad_key_elementwise(const scalar_t* gp, const scalar_t* qp, scalar_t* gkp, const Dims& d,
                          int64_t N) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t KK = static_cast<int64_t>(d.K) * d.K;
  at::parallel_for(0, N * d.d * d.h, grain_for(d.w * KK * d.s * d.s), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t y = t % d.h, c = (t / d.h) % d.d, n = t / (d.h * d.d);
      for (int64_t xx = 0; xx < d.w; ++xx) {
        gkp[t * d.w + xx] = static_cast<scalar_t>(grad_key_elem<scalar_t, acc_t>(
            gp + n * KK * d.H * d.W, qp + n * d.d * d.H * d.W, d, c, y, xx));
      }
    }
  });
}

}  // namespace

at::Tensor sapa_similarity_cpu(const at::Tensor& query, const at::Tensor& key, int64_t K,
                               int64_t s) {
  check_inputs(query, key, K, s);
  const at::Tensor q = query.contiguous(), k = key.contiguous();
  const Dims d = make_dims(k, K, s);
  at::Tensor out = at::empty({k.size(0), K * K, d.H, d.W}, k.options());
  advise_huge_pages(out);
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "sapa_similarity_cpu", [&] {
    auto fn = cpu_elementwise() ? forward_elementwise<scalar_t> : forward_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    // (a key row narrower than one vector half-fills the phase kernel's vectors: the expanded
    // rows of the row kernel fill them; measured 26 vs 28 us at 8x8 keys)
    if (!cpu_elementwise() && phase::supported(s) && d.w >= phase::Vec<scalar_t>::lanes)
      fn = forward_phase<scalar_t>;
#endif
    fn(q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
       d, k.size(0));
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> sapa_similarity_backward_cpu(const at::Tensor& grad_out,
                                                                const at::Tensor& query,
                                                                const at::Tensor& key, int64_t K,
                                                                int64_t s) {
  check_inputs(query, key, K, s);
  const at::Tensor q = query.contiguous(), k = key.contiguous(), go = grad_out.contiguous();
  const Dims d = make_dims(k, K, s);
  TORCH_CHECK(go.sizes() == at::IntArrayRef({k.size(0), K * K, d.H, d.W}),
              "_sapa_similarity_backward: grad_out must be (N, K*K, s*h, s*w)");
  TORCH_CHECK(go.scalar_type() == k.scalar_type(), "_sapa_similarity_backward: dtype mismatch");
  at::Tensor gq = at::empty_like(q), gk = at::empty_like(k);
  if (any_empty({q, k, go})) return std::make_tuple(at::zeros_like(q), at::zeros_like(k));
  advise_huge_pages(gq);
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "sapa_similarity_backward_cpu", [&] {
    const bool ew = cpu_elementwise();
    auto fq = ew ? grad_query_elementwise<scalar_t> : grad_query_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    if (!ew && phase::supported(s)) fq = grad_query_phase<scalar_t>;
#endif
    auto fk = ew ? grad_key_elementwise<scalar_t> : grad_key_rows<scalar_t>;
#if UPB_PHASE_KERNELS
    if (!ew && phase::supported(s)) fk = grad_key_phase<scalar_t>;
#endif
    fq(go.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(), gq.mutable_data_ptr<scalar_t>(),
       d, k.size(0));
    fk(go.const_data_ptr<scalar_t>(), q.const_data_ptr<scalar_t>(), gk.mutable_data_ptr<scalar_t>(),
       d, k.size(0));
  });
  return std::make_tuple(gq, gk);
}

}  // namespace sapa
}  // namespace upb

TORCH_LIBRARY_IMPL(upbench, CPU, m) {
  m.impl("sapa_similarity", &upb::sapa::sapa_similarity_cpu);
  m.impl("_sapa_similarity_backward", &upb::sapa::sapa_similarity_backward_cpu);
}
