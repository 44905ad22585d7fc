// The argument contract of every upbench operator, written once: the CPU bindings (*_cpu.cpp) and
// the CUDA bindings (*_cuda.cpp) both call contract::<op>(...) before any kernel runs, and
// contract::<op>_backward(...) checks a backward op's incoming gradient as well as its saved
// inputs. The Python reference path runs upbench/ops/_contract.py, which mirrors this file
// function for function with the same messages (tests/ops/test_contract.py calls every op with
// a wrong shape, dtype and device for each argument and compares the two errors).
//
// Message formats (kept identical in _contract.py):
//   rank   "<op>: `<name>` must be <n>-D, got shape [..]"                         ValueError
//   dtype  "<op>: `<name>` must be float32 or float64 on cpu (float16 and bfloat16 run on CUDA),
//           got <dtype>" / "... must be float32, float64, float16 or bfloat16, got <dtype>"  TypeError
//   device "<op>: `<b>` is on <dev> but `<a>` is on <dev>; move both to one device"  ValueError
//   dtype2 "<op>: `<b>` is <dtype> but `<a>` is <dtype>; use one dtype"            TypeError
//   int    "<op>: `<name>` must be >= <min>, got <v>" (or <= <max>, or odd)          ValueError
//   shape  "<op>: `<name>` must have shape <formula> = [..], got [..]"             ValueError
// Host-only (torch types); never included by a .cu file.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "../nrd_decode/nrd_decode.h"
#include "../pyramid_fuse/pyramid_fuse.h"

namespace upb {
namespace contract {

using Shape = std::vector<int64_t>;

// A named tensor argument and the rank it must have.
struct Arg {
  std::string name;
  const at::Tensor& t;
  int64_t ndim;
};

inline std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    default: return c10::toString(t);
  }
}

inline std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// `t` has rank ndim.
inline void rank(const char* op, const std::string& name, const at::Tensor& t, int64_t ndim) {
  TORCH_CHECK_VALUE(t.dim() == ndim, op, ": `", name, "` must be ", ndim, "-D, got shape ",
                    shape_str(t.sizes()));
}

// `t` has a floating dtype the kernels run: float32/float64 on CPU, also float16/bfloat16 elsewhere.
inline void floating(const char* op, const std::string& name, const at::Tensor& t) {
  const auto s = t.scalar_type();
  const bool full = s == at::kFloat || s == at::kDouble;
  if (t.device().is_cpu()) {
    TORCH_CHECK_TYPE(full, op, ": `", name,
                     "` must be float32 or float64 on cpu (float16 and bfloat16 run on CUDA), got ",
                     dtype_name(s));
  } else {
    TORCH_CHECK_TYPE(full || s == at::kHalf || s == at::kBFloat16, op, ": `", name,
                     "` must be float32, float64, float16 or bfloat16, got ", dtype_name(s));
  }
}

// `t` (named b) lives on the device of `t0` (named a), with its dtype when same_dtype.
inline void same(const char* op, const std::string& a, const at::Tensor& t0, const std::string& b,
                 const at::Tensor& t, bool same_dtype = true) {
  TORCH_CHECK_VALUE(t.device() == t0.device(), op, ": `", b, "` is on ", t.device().str(),
                    " but `", a, "` is on ", t0.device().str(), "; move both to one device");
  TORCH_CHECK_TYPE(!same_dtype || t.scalar_type() == t0.scalar_type(), op, ": `", b, "` is ",
                   dtype_name(t.scalar_type()), " but `", a, "` is ",
                   dtype_name(t0.scalar_type()), "; use one dtype");
}

// The floating tensor arguments of an op: each of its rank and a kernel dtype, then all on the
// first one's device with its dtype.
inline void tensors(const char* op, const std::vector<Arg>& args) {
  for (const auto& a : args) rank(op, a.name, a.t, a.ndim);
  for (const auto& a : args) floating(op, a.name, a.t);
  for (size_t i = 1; i < args.size(); ++i) same(op, args[0].name, args[0].t, args[i].name, args[i].t);
}

inline void at_least(const char* op, const char* name, int64_t v, int64_t lo) {
  TORCH_CHECK_VALUE(v >= lo, op, ": `", name, "` must be >= ", lo, ", got ", v);
}

inline void at_most(const char* op, const char* name, int64_t v, int64_t hi) {
  TORCH_CHECK_VALUE(v <= hi, op, ": `", name, "` must be <= ", hi, ", got ", v);
}

inline void odd(const char* op, const char* name, int64_t v) {
  at_least(op, name, v, 1);
  TORCH_CHECK_VALUE(v % 2 == 1, op, ": `", name, "` must be odd, got ", v);
}

inline void shape(const char* op, const std::string& name, const at::Tensor& t,
                  const char* formula, const Shape& want) {
  TORCH_CHECK_VALUE(t.sizes() == at::IntArrayRef(want), op, ": `", name, "` must have shape ",
                    formula, " = ", shape_str(want), ", got ", shape_str(t.sizes()));
}

// `grad_out` of a backward op: 4-D, a kernel dtype, on the device and of the dtype of the saved
// input `ref` (named ref_name), of the forward output's shape.
inline void grad_out(const char* op, const at::Tensor& g, const std::string& ref_name,
                     const at::Tensor& ref, const char* formula, const Shape& want) {
  rank(op, "grad_out", g, static_cast<int64_t>(want.size()));
  floating(op, "grad_out", g);
  same(op, ref_name, ref, "grad_out", g);
  shape(op, "grad_out", g, formula, want);
}

// ---- the operators -------------------------------------------------------------------------

inline void bilinear_upsample(const at::Tensor& x, int64_t s) {
  const char* op = "bilinear_upsample";
  tensors(op, {{"x", x, 4}});
  at_least(op, "scale_factor", s, 1);
}

inline void bilinear_upsample_backward(const at::Tensor& g, int64_t h, int64_t w, int64_t s) {
  const char* op = "_bilinear_upsample_backward";
  tensors(op, {{"grad_out", g, 4}});
  at_least(op, "h", h, 0);
  at_least(op, "w", w, 0);
  at_least(op, "scale_factor", s, 1);
  shape(op, "grad_out", g, "(N, C, s*h, s*w)", {g.size(0), g.size(1), s * h, s * w});
}

inline void pixel_shuffle(const at::Tensor& x, int64_t s) {
  const char* op = "pixel_shuffle";
  tensors(op, {{"x", x, 4}});
  at_least(op, "upscale_factor", s, 1);
  TORCH_CHECK_VALUE(x.size(1) % (s * s) == 0, op, ": channels of `x` (", x.size(1),
                    ") must be divisible by upscale_factor^2 (", s * s, ")");
}

inline void pixel_shuffle_backward(const at::Tensor& g, int64_t s) {
  const char* op = "_pixel_shuffle_backward";
  tensors(op, {{"grad_out", g, 4}});
  at_least(op, "upscale_factor", s, 1);
  TORCH_CHECK_VALUE(g.size(2) % s == 0 && g.size(3) % s == 0, op,
                    ": `grad_out` height and width must be multiples of upscale_factor (", s,
                    "), got shape ", shape_str(g.sizes()));
}

inline void carafe(const at::Tensor& x, const at::Tensor& m, int64_t K, int64_t G, int64_t s) {
  const char* op = "carafe";
  tensors(op, {{"features", x, 4}, {"masks", m, 4}});
  odd(op, "kernel_size", K);
  at_least(op, "group_size", G, 1);
  at_least(op, "scale_factor", s, 1);
  TORCH_CHECK_VALUE(x.size(1) % G == 0, op, ": channels of `features` (", x.size(1),
                    ") must be divisible by group_size (", G, ")");
  shape(op, "masks", m, "(N, G*K*K, s*h, s*w)", {x.size(0), G * K * K, x.size(2) * s, x.size(3) * s});
}

inline void carafe_backward(const at::Tensor& g, const at::Tensor& x, const at::Tensor& m,
                            int64_t K, int64_t G, int64_t s) {
  carafe(x, m, K, G, s);
  grad_out("_carafe_backward", g, "features", x, "(N, C, s*h, s*w)",
           {x.size(0), x.size(1), x.size(2) * s, x.size(3) * s});
}

inline void sapa_similarity(const at::Tensor& q, const at::Tensor& k, int64_t K, int64_t s) {
  const char* op = "sapa_similarity";
  tensors(op, {{"query", q, 4}, {"key", k, 4}});
  odd(op, "kernel_size", K);
  at_least(op, "scale_factor", s, 1);
  shape(op, "query", q, "(N, d, s*h, s*w)", {k.size(0), k.size(1), k.size(2) * s, k.size(3) * s});
}

inline void sapa_similarity_backward(const at::Tensor& g, const at::Tensor& q, const at::Tensor& k,
                                     int64_t K, int64_t s) {
  sapa_similarity(q, k, K, s);
  grad_out("_sapa_similarity_backward", g, "query", q, "(N, K*K, s*h, s*w)",
           {k.size(0), K * K, q.size(2), q.size(3)});
}

inline void offset_bilinear(const at::Tensor& x, const at::Tensor& off, int64_t sh, int64_t sw) {
  const char* op = "offset_bilinear";
  tensors(op, {{"x", x, 4}, {"offsets", off, 4}});
  at_least(op, "scale_h", sh, 1);
  at_least(op, "scale_w", sw, 1);
  const int64_t m2 = off.size(1);
  TORCH_CHECK_VALUE(m2 >= 2 && m2 % 2 == 0 && x.size(1) % (m2 / 2) == 0, op,
                    ": `offsets` must have 2*M channels with M dividing the channels of `x` (",
                    x.size(1), "), got ", m2);
  TORCH_CHECK_VALUE(x.size(2) * x.size(3) < (int64_t(1) << 31), op,
                    ": a plane of `x` must have fewer than 2^31 elements");
  shape(op, "offsets", off, "(N, 2M, sh*h, sw*w)", {x.size(0), m2, x.size(2) * sh, x.size(3) * sw});
}

inline void offset_bilinear_backward(const at::Tensor& g, const at::Tensor& x,
                                     const at::Tensor& off, int64_t sh, int64_t sw) {
  offset_bilinear(x, off, sh, sw);
  grad_out("_offset_bilinear_backward", g, "x", x, "(N, C, sh*h, sw*w)",
           {x.size(0), x.size(1), x.size(2) * sh, x.size(3) * sw});
}

inline void dupsample(const at::Tensor& f, const at::Tensor& W, const at::Tensor& b, int64_t r) {
  const char* op = "dupsample";
  tensors(op, {{"features", f, 4}, {"weight", W, 2}, {"bias", b, 1}});
  at_least(op, "scale_factor", r, 1);
  TORCH_CHECK_VALUE(W.size(0) % (r * r) == 0, op, ": rows of `weight` (", W.size(0),
                    ") must be a multiple of scale_factor^2 (", r * r, ")");
  shape(op, "weight", W, "(C*r*r, Ct) with Ct = features.size(1)", {W.size(0), f.size(1)});
  shape(op, "bias", b, "(C*r*r,)", {W.size(0)});
}

inline void dupsample_backward(const at::Tensor& g, const at::Tensor& f, const at::Tensor& W,
                               int64_t r) {
  const char* op = "_dupsample_backward";
  tensors(op, {{"features", f, 4}, {"weight", W, 2}});
  at_least(op, "scale_factor", r, 1);
  TORCH_CHECK_VALUE(W.size(0) % (r * r) == 0, op, ": rows of `weight` (", W.size(0),
                    ") must be a multiple of scale_factor^2 (", r * r, ")");
  shape(op, "weight", W, "(C*r*r, Ct) with Ct = features.size(1)", {W.size(0), f.size(1)});
  grad_out(op, g, "features", f, "(N, C, r*h, r*w)",
           {f.size(0), W.size(0) / (r * r), f.size(2) * r, f.size(3) * r});
}

// The number of per-cell MLP parameters P and the MLP input width D0 (see nrd_decode.h).
inline void nrd_decode(const at::Tensor& th, const at::Tensor& gd, int64_t K, int64_t d, int64_t g,
                       bool coords) {
  const char* op = "nrd_decode";
  tensors(op, {{"params", th, 4}, {"guidance", gd, 4}});
  at_least(op, "num_classes", K, 1);
  at_least(op, "hidden", d, 1);
  at_most(op, "hidden", d, ::upb::nrd::kMaxHidden);
  at_least(op, "grid", g, 1);
  const ::upb::nrd::Dims dd{th.size(0), th.size(2), th.size(3), gd.size(1), K, d, g, coords};
  TORCH_CHECK_VALUE(dd.D0() >= 1 && dd.D0() <= ::upb::nrd::kMaxInput, op,
                    ": the MLP input (2 coordinates if coords + the channels of `guidance`) must "
                    "have 1..", ::upb::nrd::kMaxInput, " channels, got ", dd.D0());
  shape(op, "params", th, "(N, D0*d + d + d*d + d + d*K + K, h, w)",
        {dd.N, dd.P(), dd.h, dd.w});
  shape(op, "guidance", gd, "(N, m, h*grid, w*grid)", {dd.N, dd.m, dd.H(), dd.W()});
}

inline void nrd_decode_backward(const at::Tensor& go, const at::Tensor& th, const at::Tensor& gd,
                                int64_t K, int64_t d, int64_t g, bool coords) {
  nrd_decode(th, gd, K, d, g, coords);
  grad_out("_nrd_decode_backward", go, "params", th, "(N, K, h*grid, w*grid)",
           {th.size(0), K, th.size(2) * g, th.size(3) * g});
}

inline void pyramid_fuse(const std::vector<at::Tensor>& sem, const std::vector<at::Tensor>& uni) {
  const char* op = "pyramid_fuse";
  const int64_t L = static_cast<int64_t>(sem.size());
  TORCH_CHECK_VALUE(L >= 1 && L <= ::upb::pyramid_fuse::kMaxLevels, op, ": `semantic` must have 1..",
                    ::upb::pyramid_fuse::kMaxLevels, " levels, got ", L);
  TORCH_CHECK_VALUE(static_cast<int64_t>(uni.size()) == L - 1, op,
                    ": `unity` must have one map per level except the finest (", L - 1, "), got ",
                    uni.size());
  std::vector<Arg> args;
  for (int64_t l = 0; l < L; ++l) args.push_back({"semantic[" + std::to_string(l) + "]", sem[l], 4});
  for (int64_t l = 0; l < L - 1; ++l) args.push_back({"unity[" + std::to_string(l) + "]", uni[l], 4});
  tensors(op, args);
  const at::Tensor& s0 = sem[0];
  for (int64_t l = 0; l < L; ++l)
    shape(op, args[l].name, sem[l], "(N, K, h0*2^l, w0*2^l)",
          {s0.size(0), s0.size(1), s0.size(2) << l, s0.size(3) << l});
  for (int64_t l = 0; l < L - 1; ++l)
    shape(op, args[L + l].name, uni[l], "(N, 1, h0*2^l, w0*2^l)",
          {s0.size(0), 1, s0.size(2) << l, s0.size(3) << l});
}

inline void pyramid_fuse_backward(const at::Tensor& g, const at::Tensor& level, int64_t L) {
  const char* op = "_pyramid_fuse_backward";
  tensors(op, {{"grad_out", g, 4}});
  rank(op, "level", level, 3);
  TORCH_CHECK_TYPE(level.scalar_type() == at::kLong, op, ": `level` must be int64, got ",
                   dtype_name(level.scalar_type()));
  same(op, "grad_out", g, "level", level, false);
  at_least(op, "num_levels", L, 1);
  at_most(op, "num_levels", L, ::upb::pyramid_fuse::kMaxLevels);
  const int64_t f = int64_t(1) << (L - 1);
  TORCH_CHECK_VALUE(g.size(2) % f == 0 && g.size(3) % f == 0, op,
                    ": `grad_out` height and width must be multiples of 2^(num_levels-1) (", f,
                    "), got shape ", shape_str(g.sizes()));
  shape(op, "level", level, "(N, H, W)", {g.size(0), g.size(2), g.size(3)});
}

}  // namespace contract
}  // namespace upb
