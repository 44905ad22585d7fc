"""Native upsampling operators with pure-PyTorch references.

Every op here has a C++ CPU kernel and a CUDA kernel (``ops_cuda/<op>/``), compiled just in time
into one library (:mod:`upbench.ops._build`), and a differentiable reference. Each public function
takes ``impl="auto" | "native" | "reference"``.
"""

from upbench.ops._build import NativeBuildError, build, native_available
from upbench.ops._registry import get_op, list_ops, record_impls
from upbench.ops.bilinear import bilinear_upsample
from upbench.ops.carafe import carafe
from upbench.ops.dupsample import dupsample
from upbench.ops.nrd_decode import nrd_decode
from upbench.ops.offset_bilinear import offset_bilinear
from upbench.ops.pixel_shuffle import pixel_shuffle
from upbench.ops.pyramid_fuse import pyramid_fuse
from upbench.ops.sapa_similarity import sapa_similarity

__all__ = [
    "NativeBuildError",
    "bilinear_upsample",
    "build",
    "carafe",
    "dupsample",
    "get_op",
    "list_ops",
    "native_available",
    "nrd_decode",
    "offset_bilinear",
    "pixel_shuffle",
    "pyramid_fuse",
    "record_impls",
    "sapa_similarity",
]

from upbench.ops._registry import load_if_built as _load_if_built

_load_if_built()
