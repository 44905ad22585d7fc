// Helpers for the CPU kernels (*_cpu.cpp). Kept light: the heavy ATen/ATen.h costs ~18 s per TU.
#pragma once

#include <initializer_list>

#include <ATen/core/Tensor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "upb_common.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace upb {

// Grain sizes for at::parallel_for: at least this many scalar multiply-adds per parallel chunk,
// so that small problems (gradcheck, tiny maps) run inline without waking the thread pool.
constexpr int64_t kGrainWork = 1 << 17;

// Kernel mode of the CPU backend. 0 (default): the fast row-vectorised loops. 1: every output
// element is computed by the per-element header functions that the CUDA kernels call, so the CPU
// tests check exactly the math the GPU runs. Set with torch.ops.upbench._set_cpu_kernel_mode.
int64_t cpu_kernel_mode();
inline bool cpu_elementwise() { return cpu_kernel_mode() == 1; }

// True when any of the tensors has no elements (a batch of 0, no channels, an empty map): the
// kernels' work splits divide by these extents, so an empty problem returns before any kernel
// runs (its outputs and gradients are empty or zero, as ATen's are).
inline bool any_empty(std::initializer_list<at::Tensor> ts) {
  for (const auto& t : ts)
    if (t.numel() == 0) return true;
  return false;
}

// True when every element of the contiguous floating tensor t is finite: v - v is 0 for a finite
// v and NaN otherwise, so one vectorisable sum decides (no allocation, no early exit needed).
template <typename scalar_t>
inline bool all_finite(const at::Tensor& t) {
  const scalar_t* p = t.const_data_ptr<scalar_t>();
  const int64_t n = t.numel();
  return at::parallel_reduce(
      0, n, 1 << 16, true,
      [&](int64_t b, int64_t e, bool ok) {
        scalar_t acc = scalar_t(0);
        for (int64_t i = b; i < e; ++i) acc += p[i] - p[i];
        return ok && acc == scalar_t(0);
      },
      [](bool a, bool b) { return a && b; });
}

inline int64_t grain_for(int64_t work_per_item) {
  int64_t g = kGrainWork / (work_per_item > 0 ? work_per_item : 1);
  return g < 1 ? 1 : g;
}

// A large output that the kernel is about to write in full: ask Linux to back it with transparent
// huge pages (where THP is in "madvise" mode). A fresh allocation above glibc's mmap threshold
// (32 MiB at most) is otherwise first touched one 4 KiB page fault at a time, which on a VM costs
// more than the kernel's own writes. Only whole 2 MiB pages inside the tensor are advised; a no-op
// elsewhere and for small tensors.
inline void advise_huge_pages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(1) << 21;
  if (t.nbytes() < 4 * kHuge) return;
  const uintptr_t p = reinterpret_cast<uintptr_t>(t.const_data_ptr());
  const uintptr_t lo = (p + kHuge - 1) & ~(kHuge - 1), hi = (p + t.nbytes()) & ~(kHuge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advisory only
#else
  (void)t;
#endif
}

}  // namespace upb
