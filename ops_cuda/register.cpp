// Schemas of every upbench native operator. Each forward op has its own backward op; the Python
// side (upbench/ops/<op>.py) wires them together with torch.library.register_autograd.
#include <atomic>

#include <ATen/Parallel.h>
#include <torch/library.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define UPB_FP_CONTROL_X86 1
#endif

namespace upb {
namespace {
std::atomic<int64_t> g_cpu_kernel_mode{0};

int64_t set_cpu_kernel_mode(int64_t mode) {
  TORCH_CHECK(mode == 0 || mode == 1, "_set_cpu_kernel_mode: mode must be 0 (fast) or 1 (elementwise)");
  return g_cpu_kernel_mode.exchange(mode);
}
}  // namespace

int64_t cpu_kernel_mode() { return g_cpu_kernel_mode.load(); }

namespace {
// Flush-to-zero and denormals-are-zero for the calling thread; false where upbench does not know
// the CPU's control register.
bool set_thread_flush_denormal(bool on) {
#if defined(UPB_FP_CONTROL_X86)
  constexpr unsigned kBits = 0x8040;  // MXCSR FTZ (bit 15) | DAZ (bit 6)
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? (csr | kBits) : (csr & ~kBits));
  return true;
#elif defined(__aarch64__)
  constexpr uint64_t kFZ = uint64_t(1) << 24;  // FPCR FZ
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  fpcr = on ? (fpcr | kFZ) : (fpcr & ~kFZ);
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
  return true;
#else
  (void)on;
  return false;
#endif
}

// torch.set_flush_denormal sets the calling thread only, and an intra-op thread keeps the state
// of the thread that created it: set the caller and every intra-op thread (one chunk each).
// Returns the intra-op thread count, 0 where the CPU's control is unknown.
int64_t set_flush_denormal(bool on) {
  if (!set_thread_flush_denormal(on)) return 0;
  const int64_t n = at::get_num_threads();
  at::parallel_for(0, n, 1, [on](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) set_thread_flush_denormal(on);
  });
  return n;
}
}  // namespace
}  // namespace upb

TORCH_LIBRARY(upbench, m) {
  // Test hook: 1 makes the CPU kernels use the per-element header functions of the CUDA kernels.
  m.def("_set_cpu_kernel_mode(int mode) -> int", &upb::set_cpu_kernel_mode);
  // Numerics of a cell (upbench.engine.denormals): flush denormals on every CPU thread or not.
  m.def("_set_flush_denormal(bool on) -> int", &upb::set_flush_denormal);
  // ops_cuda/bilinear
  m.def("bilinear_upsample(Tensor x, int scale_factor) -> Tensor");
  m.def("_bilinear_upsample_backward(Tensor grad_out, int h, int w, int scale_factor) -> Tensor");
  // ops_cuda/pixel_shuffle
  m.def("pixel_shuffle(Tensor x, int upscale_factor) -> Tensor");
  m.def("_pixel_shuffle_backward(Tensor grad_out, int upscale_factor) -> Tensor");
  // ops_cuda/carafe
  m.def("carafe(Tensor features, Tensor masks, int kernel_size, int group_size, int scale_factor) -> Tensor");
  m.def("_carafe_backward(Tensor grad_out, Tensor features, Tensor masks, int kernel_size, int group_size, int scale_factor) -> (Tensor, Tensor)");
  // ops_cuda/sapa_similarity
  m.def("sapa_similarity(Tensor query, Tensor key, int kernel_size, int scale_factor) -> Tensor");
  m.def("_sapa_similarity_backward(Tensor grad_out, Tensor query, Tensor key, int kernel_size, int scale_factor) -> (Tensor, Tensor)");
  // ops_cuda/offset_bilinear
  m.def("offset_bilinear(Tensor x, Tensor offsets, int scale_h, int scale_w, bool align_corners=True) -> Tensor");
  m.def("_offset_bilinear_backward(Tensor grad_out, Tensor x, Tensor offsets, int scale_h, int scale_w, bool align_corners=True) -> (Tensor, Tensor)");
  // ops_cuda/dupsample
  m.def("dupsample(Tensor features, Tensor weight, Tensor bias, int scale_factor) -> Tensor");
  m.def("_dupsample_backward(Tensor grad_out, Tensor features, Tensor weight, int scale_factor) -> (Tensor, Tensor, Tensor)");
  // ops_cuda/nrd_decode
  m.def("nrd_decode(Tensor params, Tensor guidance, int num_classes, int hidden, int grid, bool coords) -> Tensor");
  m.def("_nrd_decode_backward(Tensor grad_out, Tensor params, Tensor guidance, int num_classes, int hidden, int grid, bool coords) -> (Tensor, Tensor)");
  // ops_cuda/pyramid_fuse
  m.def("pyramid_fuse(Tensor[] semantic, Tensor[] unity, float tau) -> (Tensor, Tensor)");
  m.def("_pyramid_fuse_backward(Tensor grad_out, Tensor level, int num_levels) -> Tensor[]");
}
