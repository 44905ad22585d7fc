"""The ``segformer-b1`` baseline: MiT-B1 + SegFormer's all-MLP head, with SAPA's upsampler slots.

Built after NVlabs/SegFormer (``local_configs/segformer/B1/segformer.b1.512x512.ade.160k.py``,
``mmseg/models/decode_heads/segformer_head.py``); module names are mmseg's (``backbone.*``,
``decode_head.*``), so an mmseg checkpoint of the whole network loads as it is::

    c1, c2, c3, c4 = backbone(image)              # MiT-B1: 64, 128, 320, 512 ch at 1/4 … 1/32
    _ci = linear_ci(ci)                           # Linear Ci → 256 per token (decode_head.linear_ci)
    _c4 → 1/4, _c3 → 1/4, _c2 → 1/4               # the upsampler slots (below)
    x = linear_fuse(cat[_c4, _c3, _c2, _c1])      # 1×1 conv 1024 → 256 (no bias) + BN + ReLU
    logits = linear_pred(dropout2d_0.1(x))        # 1×1 conv 256 → K, at 1/4: the output

``forward`` returns the logits at 1/4 (what the network computes, and what FLOPs count); the
loss and the prediction resize them bilinearly ×4 to the image size (align_corners False), as
mmseg's ``losses`` and ``encode_decode`` do. The loss is cross-entropy with ignore index 255.

Slots (SAPA's placement, its appendix and the authors' SegFormer logs):

* ``bilinear`` — the original network: one bilinear resize per map, ``decode_head.up_c4.0``
  (×8), ``decode_head.up_c3.0`` (×4), ``decode_head.up_c2.0`` (×2), so its params and FLOPs are
  exactly the original's.
* any other feature upsampler — six cascaded ×2 modules on the 256-channel projected maps:
  ``up_c4.0-2`` (1/32 → 1/16 → 1/8 → 1/4), ``up_c3.0-1`` (1/16 → 1/8 → 1/4), ``up_c2.0``
  (1/8 → 1/4). A guided upsampler's guide is the projected finer map at the target resolution
  (``_c3``, ``_c2``, ``_c1``: 256 channels).
* label-space decoders — n/a: the head has no label-space slot in this placement (the
  ``deeplabv3plus-r50`` baseline hosts them); ``placement: final`` likewise.

Parameters (K = 150): encoder 13,151,424; head 564,374; plus mmseg's ``conv_seg`` (128 → K,
19,350), which mmseg's ``BaseDecodeHead`` always builds and SegFormer never uses — counted in the
printed 13.74 M (13,735,148) and kept here (``unused_conv_seg=False`` drops it: 13,715,798).
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models.aspp import ConvModule
from upbench.models.mit import MixVisionTransformer
from upbench.models.mit_weights import (
    HF_LAYOUTS,
    mit_from_huggingface,
    mit_from_mmseg,
    mit_named_weights,
)
from upbench.models.slots import SLOT_SEED_OFFSET, Unhostable, make_upsampler
from upbench.models.weights import KeyLayout, StateDict, WeightsReport, load_weights
from upbench.tasks.base import TaskModel
from upbench.tasks.segmentation.data import IGNORE_INDEX
from upbench.upsamplers import get_upsampler_class

EMBED_DIM = 256  # decoder_params.embed_dim of the official config
CONV_SEG_CHANNELS = 128  # the config's ``channels`` (only the unused conv_seg reads it)
DROPOUT = 0.1
LEVELS = ("c4", "c3", "c2")  # the maps resized to 1/4 (strides 32, 16, 8)


class MLP(nn.Module):
    """SegFormer's per-token linear embedding of a feature map (``proj``: Linear Cin → C)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, Cin, H, W) → (N, C, H, W)."""
        n, _, h, w = x.shape
        return self.proj(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(n, -1, h, w)


class SegFormerHead(nn.Module):
    """The all-MLP decoder. Its resize slots ``up_c4``, ``up_c3``, ``up_c2`` (ModuleLists) are
    set by the owner (:class:`SegFormer`), from the slot seed.

    Args:
        in_channels: the encoder's four widths.
        num_classes: K.
        channels: the embedding width (256).
        unused_conv_seg: build mmseg's never-used ``conv_seg`` (128 → K) so that the parameter
            count is the printed one.
    """

    def __init__(self, in_channels: list[int], num_classes: int, channels: int = EMBED_DIM,
                 unused_conv_seg: bool = True) -> None:
        super().__init__()
        for i, cin in enumerate(in_channels, start=1):
            setattr(self, f"linear_c{i}", MLP(cin, channels))
        self.linear_fuse = ConvModule(4 * channels, channels)
        self.dropout = nn.Dropout2d(DROPOUT)
        self.linear_pred = nn.Conv2d(channels, num_classes, 1)
        if unused_conv_seg:  # mmseg's BaseDecodeHead builds it; SegFormerHead never calls it
            self.conv_seg = nn.Conv2d(CONV_SEG_CHANNELS, num_classes, 1)
            nn.init.normal_(self.conv_seg.weight, 0.0, 0.01)
            nn.init.zeros_(self.conv_seg.bias)
        self.up_c4, self.up_c3, self.up_c2 = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Logits (N, K, H/4, W/4) from the encoder's [c1, c2, c3, c4]."""
        proj = [getattr(self, f"linear_c{i}")(c) for i, c in enumerate(feats, start=1)]
        # each coarse map climbs to 1/4; targets[j] is the map one ×2 step above the previous
        resized = [_climb(proj[3], self.up_c4, [proj[2], proj[1], proj[0]]),
                   _climb(proj[2], self.up_c3, [proj[1], proj[0]]),
                   _climb(proj[1], self.up_c2, [proj[0]])]
        x = self.linear_fuse(torch.cat([*resized, proj[0]], 1))
        return self.linear_pred(self.dropout(x))


def _climb(x: torch.Tensor, ups: nn.ModuleList, targets: list[torch.Tensor]) -> torch.Tensor:
    """x through the upsamplers ``ups`` (one ×2^len(targets), or one ×2 per target); a guided
    one gets the projected map at its output resolution as its guide."""
    step = 0
    for up in ups:
        step += up.scale.bit_length() - 1  # log2 of a power of two
        x = up(x, targets[step - 1] if up.guided else None)
    return x


class SegFormer(TaskModel):
    """SegFormer (MiT encoder + all-MLP head) hosting one upsampler (see the module docstring).

    Args:
        num_classes: K.
        upsampler: the registry name of the upsampler under test.
        hparams: its hyper-parameters.
        impl: ``auto`` | ``native`` | ``reference``, passed to every upsampler.
        seed: initialisation seed (None: the current RNG state); the slots use
            ``seed + SLOT_SEED_OFFSET`` so every upsampler starts from the same network.
        placement: None or ``decoder`` (the only placement this baseline has).
        size: the MiT size (``mit_b1``).
        unused_conv_seg: keep mmseg's unused ``conv_seg`` (counted in the printed params).
        drop_path_rate: the encoder's stochastic depth (0.1 as the official config).

    Raises:
        Unhostable: a label-space decoder, ``placement: final``, or an upsampler that cannot be
            built on 256 channels or changes the channel count.
    """

    def __init__(self, num_classes: int, upsampler: str = "bilinear",
                 hparams: dict[str, Any] | None = None, impl: str = "auto",
                 seed: int | None = None, placement: str | None = None, size: str = "mit_b1",
                 unused_conv_seg: bool = True, drop_path_rate: float = 0.1) -> None:
        super().__init__()
        cls = get_upsampler_class(upsampler)
        if cls.space == "label":
            raise Unhostable(f"{upsampler} is a label-space decoder: SegFormer's all-MLP head "
                             "has no label-space slot (SAPA replaces its three feature resizes); "
                             "the deeplabv3plus-r50 baseline hosts label-space decoders")
        if placement not in (None, "decoder"):
            raise Unhostable(f"segformer hosts upsamplers only in SAPA's decoder slots (the "
                             f"resizes of the projected maps), not placement {placement!r}")
        self.upsampler_name, self.space, self.num_classes = upsampler, cls.space, num_classes
        self.size = size
        if seed is not None:
            torch.manual_seed(seed)
        self.backbone = MixVisionTransformer(size, drop_path_rate=drop_path_rate)
        self.decode_head = SegFormerHead(self.backbone.embed_dims, num_classes,
                                         unused_conv_seg=unused_conv_seg)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        head, hparams = self.decode_head, dict(hparams or {})
        for n_up, level in zip((3, 2, 1), LEVELS, strict=True):
            if upsampler == "bilinear":  # the original network: one resize to 1/4
                ups = [make_upsampler("bilinear", EMBED_DIM, 2 ** n_up, hparams, impl)]
            else:
                ups = [make_upsampler(upsampler, EMBED_DIM, 2, hparams, impl,
                                      guide_channels=EMBED_DIM) for _ in range(n_up)]
            for u in ups:
                if u.out_channels != EMBED_DIM:
                    raise Unhostable(f"{upsampler} changes the channel count ({EMBED_DIM} → "
                                     f"{u.out_channels}); SegFormer's fuse takes 4 × {EMBED_DIM}")
            setattr(head, f"up_{level}", nn.ModuleList(ups))
        self.slots = [f"decode_head.up_{level}.{i}" for level in LEVELS
                      for i in range(len(getattr(head, f"up_{level}")))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K, H/4, W/4) for images (N, 3, H, W) with H, W multiples of 32 (what the
        network computes; FLOPs count this)."""
        if x.dim() != 4 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"SegFormer: input must be (N, 3, H, W) with H, W multiples of 32, "
                             f"got {tuple(x.shape)}")
        return self.decode_head(self.backbone(x))

    @staticmethod
    def resize(logits: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """The logits bilinearly resized to ``size`` (align_corners False), as mmseg resizes
        them for the loss and for evaluation."""
        return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-entropy of the logits resized to the labels (N, H, W), ignore 255."""
        return {"ce": F.cross_entropy(self.resize(outputs, targets.shape[-2:]), targets,
                                      ignore_index=IGNORE_INDEX)}

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The label map (N, H, W) at the image size (the 1/4 logits resized ×4): arg-max over
        the classes."""
        return self.resize(outputs, (outputs.shape[2] * 4, outputs.shape[3] * 4)).argmax(1)

    def load_pretrained(self, spec: str, strict: bool = True) -> WeightsReport:
        """Load ``model.weights``: a file or ``imagenet`` (NVlabs' ``mit_b1.pth``). A file of the
        encoder alone fills the encoder (the head keeps its seeded initialisation); a file of
        the whole network (mmseg's or Hugging Face's ``SegformerForSemanticSegmentation``) fills
        the head too. The upsampler slots and the unused ``conv_seg`` are never required.

        Raises:
            WeightsError: see :func:`upbench.models.weights.load_weights`.
        """
        optional = ["decode_head.", "decode_head.conv_seg.", *(f"{s}." for s in self.slots)]
        self.weights_report = load_weights(self, spec, layouts=SEGFORMER_LAYOUTS,
                                           named=mit_named_weights(self.size), strict=strict,
                                           what=f"segformer ({self.size})", optional=optional)
        return self.weights_report


def _from_mmseg(state: StateDict) -> StateDict:
    """mmseg's names: a whole network (``backbone.*``, ``decode_head.*``, also upbench's own
    checkpoints), or NVlabs' ImageNet encoder file (bare names)."""
    whole = {k: v for k, v in state.items() if k.startswith(("backbone.", "decode_head."))}
    return whole if whole else mit_from_mmseg(state, "backbone.")


# Hugging Face's decode head → mmseg's (both transformers generations)
_HF_HEAD = [(r"decode_head\.(?:linear_c|linear_projections)\.(\d+)\.", "decode_head.linear_c{}."),
            (r"decode_head\.linear_fuse\.weight$", "decode_head.linear_fuse.conv.weight"),
            (r"decode_head\.batch_norm\.", "decode_head.linear_fuse.bn."),
            (r"decode_head\.classifier\.", "decode_head.linear_pred.")]


def _hf_head_key(key: str) -> str:
    for pattern, repl in _HF_HEAD:
        m = re.match(pattern, key)
        if m:
            idx = [int(g) + 1 for g in m.groups()]
            return repl.format(*idx) + key[m.end():]
    return key


def _hf_layout(name: str) -> KeyLayout:
    def convert(state: StateDict) -> StateDict:
        return {_hf_head_key(k): v
                for k, v in mit_from_huggingface(state, name, "backbone.").items()}
    return KeyLayout(name, convert)


SEGFORMER_LAYOUTS = (KeyLayout("mmseg", _from_mmseg), *(_hf_layout(n) for n in HF_LAYOUTS))


def build_segformer(suite: Any, upsampler: str, hparams: dict[str, Any], placement: str | None,
                    seed: int) -> SegFormer:
    """The ``segformer-b1`` baseline of a suite, with ``model.weights`` loaded if set."""
    model = SegFormer(suite.dataset.num_classes, upsampler, hparams, impl=suite.impl, seed=seed,
                      placement=placement)
    weights = getattr(suite.model, "weights", None)
    if weights:
        model.load_pretrained(weights, getattr(suite.model, "weights_strict", True))
    return model


__all__ = ["SEGFORMER_LAYOUTS", "SegFormer", "SegFormerHead", "build_segformer"]
