"""DUpsampling (Tian et al., CVPR 2019): fused linear reconstruction and depth-to-space.

``out[n, c, y·r + i, x·r + j] = bias[o] + Σ_k weight[o, k] · features[n, k, y, x]`` with
``o = (c·r + i)·r + j``.

Channel ordering: row ``o`` of ``weight`` (and entry ``o`` of ``bias``) reconstructs class/channel
``c`` at sub-pixel ``(i, j)`` (row, column) of the r×r patch — exactly the ordering of a 1×1
convolution to C·r² channels followed by ``pixel_shuffle(r)``. A flattened r×r×C label patch
``v`` in this ordering is ``v[(c·r + i)·r + j] = onehot[c, i, j]``; the PCA of
:mod:`upbench.upsamplers.dupsampling` uses the same ordering, so ``weight`` holds its components
as columns and ``bias`` the patch mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_int, check_same, check_tensor
from upbench.ops._registry import OpCase, OpSpec, call_backward, register_op, run_op

OP = "dupsample"


def _validate(features, weight, bias, scale_factor) -> int:
    check_tensor(features, "features", OP)
    check_tensor(weight, "weight", OP, ndim=2)
    check_tensor(bias, "bias", OP, ndim=1)
    check_same(OP, features=features, weight=weight, bias=bias)
    check_cpu_dtype(features, "features", OP)
    r = check_int(scale_factor, "scale_factor", OP)
    o, ct = weight.shape
    if ct != features.shape[1]:
        raise ValueError(
            f"{OP}: `weight` must be (C·r², C̃) with C̃ = features.size(1) = {features.shape[1]}; "
            f"got {tuple(weight.shape)}"
        )
    if o % (r * r):
        raise ValueError(
            f"{OP}: `weight` rows ({o}) must be a multiple of scale_factor² = {r * r} (C·r²)"
        )
    if tuple(bias.shape) != (o,):
        raise ValueError(f"{OP}: `bias` must have shape ({o},) = (C·r²,); got {tuple(bias.shape)}")
    return r


@autocast_frontend(OP)
def dupsample(
    features: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    scale_factor: int,
    *,
    impl: str = "auto",
) -> torch.Tensor:
    """Data-dependent upsampling: per low-res location W·f + b, then depth-to-space.

    Args:
        features: compressed features F (N, C̃, h, w).
        weight: reconstruction matrix W (C·r², C̃), rows in the order ``(c·r + i)·r + j``.
        bias: offset b (C·r²,), e.g. the mean label patch; ``None`` means zeros.
        scale_factor: r ≥ 1.
        impl: ``"auto"`` (native, else the reference with a warning), ``"native"``, ``"reference"``.

    Returns:
        (N, C, r·h, r·w) with C = weight.size(0) / r².
    """
    if bias is None and isinstance(weight, torch.Tensor):
        bias = weight.new_zeros(weight.shape[0])
    r = _validate(features, weight, bias, scale_factor)
    return run_op(OP, impl, features.device, features, weight, bias, r)


def dupsample_reference(features, weight, bias, scale_factor) -> torch.Tensor:
    """Pure-PyTorch DUpsampling: an einsum over C̃, bias, then a reshape/permute depth-to-space."""
    n, _, h, w = features.shape
    r = scale_factor
    c = weight.shape[0] // (r * r)
    lin = torch.einsum("ok,nkyx->noyx", weight, features) + bias.view(1, -1, 1, 1)
    return lin.view(n, c, r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * r, w * r)


def dupsample_aten(features, weight, bias, scale_factor) -> torch.Tensor:
    """The best pure-ATen formulation: ``conv2d`` 1×1 (oneDNN/cuDNN) + ``pixel_shuffle``."""
    out = F.conv2d(features, weight[:, :, None, None], bias)
    return F.pixel_shuffle(out, scale_factor)


def dupsample_macs(features, weight, bias, scale_factor) -> int:
    """Multiply-accumulates: N·h·w·(C·r²)·C̃."""
    n, ct, h, w = features.shape
    return n * h * w * weight.shape[0] * ct


def dupsample_backward_macs(grad_out, features, weight, scale_factor) -> int:
    """``_dupsample_backward``: twice the forward, N·h·w·(C·r²)·C̃ for the features' gradient
    (Wᵀ·g) and as many for the weight's (g·Fᵀ); the bias' gradient is a sum (no multiply)."""
    return 2 * dupsample_macs(features, weight, None, scale_factor)


def _bytes(features, weight, bias, scale_factor) -> int:
    out = features.shape[0] * features.shape[2] * features.shape[3] * weight.shape[0]
    return (features.numel() + weight.numel() + bias.numel() + out) * features.element_size()


def _case(n, ct, c, h, w, r, dtype, device, gen) -> OpCase:
    f = torch.randn(n, ct, h, w, generator=gen, dtype=dtype).to(device)
    wt = (torch.randn(c * r * r, ct, generator=gen, dtype=dtype) / max(ct, 1) ** 0.5).to(device)
    b = torch.randn(c * r * r, generator=gen, dtype=dtype).to(device)
    return OpCase(f"f({n},{ct},{h},{w}) C{c} r{r}", (f, wt, b, r))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 5, 3, 3, 4, 2, dtype, device, gen),
        _case(1, 7, 2, 5, 3, 3, dtype, device, gen),
        _case(2, 4, 3, 2, 2, 4, dtype, device, gen),
        _case(1, 3, 4, 3, 5, 1, dtype, device, gen),
    ]


def _bench_case(shape=None, scale=None, num_classes=19, dtype=torch.float32,
                device="cpu", gen=None, **_) -> OpCase:
    """Default: the segmentation setting, N=2, C̃=64 at 16×16 (stride 32 of 512²), C=19, r=32."""
    shape = (2, 64, 16, 16) if shape is None else shape
    scale = 32 if scale is None else scale
    n, ct, h, w = shape
    return _case(n, ct, num_classes, h, w, scale, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::dupsample")
    def _fake(features, weight, bias, scale_factor):
        n, _, h, w = features.shape
        c = weight.shape[0] // (scale_factor * scale_factor)
        return features.new_empty((n, c, h * scale_factor, w * scale_factor))

    @torch.library.register_fake("upbench::_dupsample_backward")
    def _fake_bwd(grad_out, features, weight, scale_factor):
        return torch.empty_like(features), torch.empty_like(weight), weight.new_empty(weight.shape[0])

    def _setup(ctx, inputs, output):
        features, weight, _bias, r = inputs
        ctx.save_for_backward(features, weight)
        ctx.r = r

    def _backward(ctx, grad):
        features, weight = ctx.saved_tensors
        gf, gw, gb = call_backward(torch.ops.upbench._dupsample_backward, grad.contiguous(),
                                   features, weight, ctx.r)
        return gf, gw, gb, None

    torch.library.register_autograd("upbench::dupsample", _backward, setup_context=_setup)

    # double backward through the reference (the bias enters only the first derivative's
    # third output, which is linear in grad_out)
    def _setup2(ctx, inputs, output):
        grad_out, features, weight, r = inputs
        ctx.save_for_backward(grad_out, features, weight)
        ctx.r = r

    def _backward2(ctx, gg_f, gg_w, gg_b):
        grad_out, features, weight = ctx.saved_tensors
        with torch.enable_grad():
            go, f, w = (t.detach().requires_grad_() for t in (grad_out, features, weight))
            b = w.new_zeros(w.shape[0], requires_grad=True)
            firsts = torch.autograd.grad(dupsample_reference(f, w, b, ctx.r), (f, w, b), go,
                                         create_graph=True)
            pairs = [(a, g) for a, g in zip(firsts, (gg_f, gg_w, gg_b), strict=True)
                     if g is not None]
            res = torch.autograd.grad([a for a, _ in pairs], (go, f, w), [g for _, g in pairs],
                                      allow_unused=True)
        return (*res, None)

    torch.library.register_autograd("upbench::_dupsample_backward", _backward2,
                                    setup_context=_setup2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="dupsample(Tensor features, Tensor weight, Tensor bias, int scale_factor) -> Tensor",
        native=lambda *a: torch.ops.upbench.dupsample(*a),
        reference=dupsample_reference,
        macs=dupsample_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1, 2),
        bytes_moved=_bytes,
        backward_macs=dupsample_backward_macs,
        aten=dupsample_aten,
        aten_name="conv2d 1x1 + pixel_shuffle",
    )
)
