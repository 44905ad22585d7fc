// Schemas of every upbench native operator. Each forward op has its own backward op; the Python
// side (upbench/ops/<op>.py) wires them together with torch.library.register_autograd.
#include <atomic>

#include <torch/library.h>

namespace upb {
namespace {
std::atomic<int64_t> g_cpu_kernel_mode{0};

int64_t set_cpu_kernel_mode(int64_t mode) {
  TORCH_CHECK(mode == 0 || mode == 1, "_set_cpu_kernel_mode: mode must be 0 (fast) or 1 (elementwise)");
  return g_cpu_kernel_mode.exchange(mode);
}
}  // namespace

int64_t cpu_kernel_mode() { return g_cpu_kernel_mode.load(); }
}  // namespace upb

TORCH_LIBRARY(upbench, m) {
  // Test hook: 1 makes the CPU kernels use the per-element header functions of the CUDA kernels.
  m.def("_set_cpu_kernel_mode(int mode) -> int", &upb::set_cpu_kernel_mode);
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
