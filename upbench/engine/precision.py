"""Mixed precision and memory format of a cell (``train.precision``, ``train.channels_last``).

``fp32`` is the plain loop (no autocast, no scaler: the numbers of every cell that does not set
the key are unchanged). ``bf16`` and ``fp16`` run the forward passes and the losses inside
``torch.autocast`` on the cell's device; ``fp16`` also scales the loss with a
``torch.amp.GradScaler`` (bfloat16 has float32's range and needs none). Every upbench op has
autocast kernels (:mod:`upbench.ops._autocast`), so every upsampler runs under both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast region, gradient scaler and memory format of one training run.

    Args:
        precision: ``fp32`` | ``bf16`` | ``fp16``.
        device: the cell's device (autocast runs on its type).
        channels_last: convert the model and 4-D inputs to ``torch.channels_last``.
    """

    def __init__(self, precision: str, device: torch.device, channels_last: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision, self.device, self.channels_last = precision, device, channels_last
        self.dtype = _DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The forward (and loss) region: autocast to the precision's dtype, nothing for fp32."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.dtype):
            yield

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """The model on the device, in channels-last memory format when asked."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def inputs(self, obj: Any) -> Any:
        """Model inputs in channels-last format when asked (4-D float tensors only)."""
        if not self.channels_last:
            return obj
        if isinstance(obj, torch.Tensor):
            return obj.contiguous(memory_format=torch.channels_last) if obj.dim() == 4 else obj
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.inputs(v) for v in obj)
        return obj

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer,
                      params: Any, grad_clip: float | None) -> None:
        """``loss.backward()``, optional gradient clipping and the optimiser step; with fp16 the
        loss is scaled, the gradients unscaled before clipping and a step with inf/NaN
        gradients skipped (the scaler lowers its scale)."""
        if self.scaler is None:
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            return
        self.scaler.scale(loss).backward()
        if grad_clip:
            self.scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(params, grad_clip)
        self.scaler.step(opt)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (empty without one), for checkpoints."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the scaler's state from :meth:`state_dict`."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def as_float32(obj: Any) -> Any:
    """Reduced-precision floating tensors (inside tuples, lists, dicts) as float32: evaluators
    and metrics always see float32 predictions."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.dtype in (torch.float16, torch.bfloat16) else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_float32(v) for v in obj)
    if isinstance(obj, dict):
        return {k: as_float32(v) for k, v in obj.items()}
    return obj


__all__ = ["PRECISIONS", "Precision", "as_float32"]
