"""impl selection: native, reference, the warned fallback, and the record of what ran."""

from __future__ import annotations

import pytest
import torch

from upbench import ops
from upbench.ops import _build, _registry


def test_record_impls_names_what_ran(native):
    x = torch.randn(1, 4, 3, 3)
    with ops.record_impls() as rec:
        ops.bilinear_upsample(x, 2)
        ops.pixel_shuffle(x, 2, impl="reference")
    assert rec == {"bilinear_upsample": {"native-cpu"}, "pixel_shuffle": {"reference"}}


def test_unknown_impl():
    with pytest.raises(ValueError, match="impl must be one of"):
        ops.bilinear_upsample(torch.randn(1, 1, 2, 2), 2, impl="fast")


def test_fallback_warns_once_and_records_reference(monkeypatch):
    monkeypatch.setattr(_build, "_state", {"error": _build.NativeBuildError("compiler exploded")})
    monkeypatch.setattr(_registry, "_warned", set())
    x = torch.randn(1, 4, 3, 3)
    with ops.record_impls() as rec, pytest.warns(RuntimeWarning, match="compiler exploded"):
        out = ops.bilinear_upsample(x, 2)
    assert rec == {"bilinear_upsample": {"reference"}}
    torch.testing.assert_close(out, torch.nn.functional.interpolate(x, scale_factor=2,
                                                                    mode="bilinear"))
    with pytest.raises(_build.NativeBuildError, match="compiler exploded"):
        ops.bilinear_upsample(x, 2, impl="native")
