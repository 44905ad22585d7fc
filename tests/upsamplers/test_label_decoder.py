"""A label-space decoder is one subclass of :class:`LabelDecoder` in its own module: defined and
registered here, it is validated by a suite, recorded in its cells, hosted by the segmentation
baseline as it declares (decoding stride, guide, pyramid), trained with its own losses and
counted alone — without a change to any other file."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from torch import nn

from upbench.cli.flops import Standalone, standalone_inputs
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.flops import count_flops
from upbench.upsamplers import LabelDecoder, register_upsampler
from upbench.upsamplers._registry import _REGISTRY

NAME = "_test-pyramid-classifier"


@pytest.fixture()
def decoder():
    """A pyramid-reading label decoder: classifies every level of the pyramid, sums them at the
    finest resolution, then upsamples to the image (decoding stride 16 by default)."""
    calls: list[tuple] = []

    @register_upsampler(NAME)
    class PyramidClassifier(LabelDecoder):
        """Sum of per-level classifiers over the decoder pyramid (a test decoder)."""

        needs_pyramid: ClassVar[bool] = True
        decode_stride: ClassVar[int] = 16

        def __init__(self, in_channels: int, scale: int, num_classes: int = 19,
                     impl: str = "auto") -> None:
            super().__init__(in_channels, scale, num_classes, impl)
            self.cls = nn.Conv2d(in_channels, num_classes, 1)

        def forward(self, x, guide=None, pyramid=None):
            calls.append((tuple(x.shape), [tuple(p.shape) for p in pyramid]))
            size = pyramid[-1].shape[-2:]
            logits = sum(nn.functional.interpolate(self.cls(p), size=size) for p in pyramid)
            return nn.functional.interpolate(logits, size=(x.shape[2] * self.scale,
                                                           x.shape[3] * self.scale))

        def extra_losses(self, outputs, target, state=None):
            return {"zero": outputs.mean() * 0}

    try:
        yield PyramidClassifier, calls
    finally:
        _REGISTRY.pop(NAME, None)


def _suite(tmp_path, entry: str):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\ntask: segmentation\ninput_size: [64, 64]\n"
                 "model: {widths: [8, 8, 16, 16], decoder_channels: 8}\n"
                 f"upsamplers: [{entry}]\n")
    return load_suite(p)


@pytest.mark.parametrize(("entry", "stride"), [(NAME, 16), (f"{{{NAME}: {{decode_stride: 32}}}}", 32)])
def test_a_new_label_decoder_is_hosted_as_it_declares(decoder, tmp_path, entry, stride):
    cls, calls = decoder
    suite = _suite(tmp_path, entry)
    (cell,) = expand(suite)
    assert cell.config["upsampler"].get("decode_stride", 32) == stride  # recorded when not 32
    e = cell.upsampler
    model = suite.task_def.build_model(suite, e.name, e.hparams, e.placement, 0, **e.host)
    assert model.slots == ["final_up"] and isinstance(model.final_up, cls)
    assert model.final_up.scale == stride
    x = torch.randn(2, 3, 64, 64)
    losses = model.training_losses((x,), torch.randint(0, 4, (2, 64, 64)))
    assert set(losses) == {"ce", "final_up.zero"}
    sum(losses.values()).backward()
    assert model.final_up.cls.weight.grad is not None
    (xs, pyramid), = calls[-1:]
    assert xs == (2, 8, 64 // stride, 64 // stride)
    # the pyramid: decoder features from the decoding stride to the finest (1/4), each 2× the last
    assert pyramid == [(2, 8, 64 // stride << i, 64 // stride << i)
                       for i in range(len(pyramid))] and pyramid[-1][2] == 16
    assert model(x).shape == (2, suite.dataset.num_classes, 64, 64)


def test_its_host_settings_are_checked_by_the_suite(decoder, tmp_path):
    with pytest.raises(ConfigError, match="decode_stride.*must be one of 16, 32"):
        _suite(tmp_path, f"{{{NAME}: {{decode_stride: 8}}}}")


def test_it_is_counted_alone(decoder):
    cls, _ = decoder
    up = cls(8, 16, num_classes=3)
    inputs = standalone_inputs(up, 8, 4, 4)
    assert [tuple(t.shape) for t in inputs] == [
        (1, 8, 4, 4), (1, 8, 16, 16), (1, 8, 4, 4), (1, 8, 8, 8), (1, 8, 16, 16)]
    rep = count_flops(Standalone(up), inputs, ["up"], table=False)
    assert rep.total > 0
