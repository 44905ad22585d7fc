"""DUpsampling (Tian et al., CVPR 2019): data-dependent label-space decoding.

``dupsampling`` (space "label") decodes the final prediction: a 1×1 projection of x to C̃
channels, then the frozen PCA reconstruction W·f + mean and depth-to-space
(:func:`upbench.ops.dupsample`), divided by the learnable softmax temperature T (§3.2).
``dupsampling-learned`` (space "feature") is the same linear upsampling with W trained, used as
a feature upsampler inside decoders.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._label_pca import fit_label_pca, label_patches
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler
from upbench.upsamplers.label_decoder import LabelDecoder

TEMPERATURE_FIT_IMAGES = 256  # training label maps the initial temperature is fitted on


def _orthonormal(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(rows, cols, generator=gen, dtype=torch.float64))
    return q.float()


def _labels_of(batch) -> torch.Tensor:
    if isinstance(batch, dict):
        return batch["label"] if "label" in batch else batch["labels"]
    if isinstance(batch, (tuple, list)):
        return batch[1]
    raise TypeError(f"DUpsampling.fit: batches must be (images, labels), got {type(batch).__name__}")


@register_upsampler("dupsampling")
class DUpsampling(LabelDecoder):
    """DUpsampling label-space decoder (paper §3.1–3.2; docs/operators.md "DUpsampling").

    Forward contract: ``forward(x, guide=None, pyramid=None)`` with x (N, in_channels, h, w) at
    stride ``scale`` of the output returns logits (N, num_classes, scale·h, scale·w), already
    divided by the temperature T (softmax(logits) = softmax(z / T)). ``guide`` and ``pyramid``
    are accepted and ignored.

    Layers: ``proj`` 1×1 conv in_channels → C̃ (the paper's final encoder layer producing F);
    reconstruction ``weight`` (C·r², C̃) and ``bias`` (C·r²,) in :func:`upbench.ops.dupsample`'s
    channel ordering; ``temperature`` T (learnable, clamped to ≥ 0.01 in forward).

    Temperature initialisation (a deviation, ``init_temperature=None``): :meth:`fit` sets T to the
    value that minimises the cross-entropy of the training labels' own PCA reconstruction (the
    oracle code ``Wᵀ(v − mean)`` decoded and divided by T), a 1-D search. The paper starts at
    T = 1 and lets SGD (lr 0.007, 30k iterations) learn it; under Adam-style optimisers every
    parameter moves about one learning rate per step, so T needs hundreds of steps to fall from 1
    to the ≈0.1 the reconstruction wants, and short schedules measure that lag rather than the
    operator (quick suite, 400 iterations: 24.1 mIoU from T = 1, 50.3 from the fitted T; both
    64.2 after 1600, with the 32-channel fused feature of before issue 27).
    ``init_temperature=1.0`` is the paper's initialisation.

    Modes:
        * ``learned=False`` (faithful): ``weight``/``bias`` are frozen buffers set by
          :meth:`fit` — the top-C̃ PCA components of the centred one-hot r×r×C training label
          patches (ignore → zero vector) and their mean. Before ``fit`` they hold a fixed random
          orthonormal basis and the uniform mean 1/C, so the module runs (``fitted`` is False).
        * ``learned=True``: ``weight`` and ``bias`` are parameters trained with the network
          (no PCA); :meth:`fit` does nothing.

    Args:
        num_classes: C.
        compressed_channels: C̃ (64 as the paper's ResNet-50 runs), clamped to C·r².
        learned: train W instead of fitting it.
        ignore_index: label value of ignored pixels.
        init_temperature: T's initial value; None: fitted with the PCA (see above).
    """

    ops = ("dupsample",)
    decode_stride = 16  # the paper's main setting (Tables 2-3, output stride 16)
    fused_input = True  # §3.3: F = f(concat(downsample(F_i), F_last)) at the decoding stride

    @classmethod
    def fused_channels(cls, channels: int, hparams: dict[str, Any]) -> int:
        """§3.1/3.3: F, the fused feature W decodes, has C̃ channels; a host whose decoder is
        narrower than C̃ widens its fusion layer to C̃, so that the code F is not confined to a
        ``channels``-dimensional subspace (on the quick suite's labels the PCA reconstruction
        ceiling is 69.6 mIoU with rank 32 and 76.7 with C̃ = 64; docs/label_decoders.md)."""
        c = hparams.get("compressed_channels", 64)
        return max(channels, c) if isinstance(c, int) and not isinstance(c, bool) else channels

    def __init__(
        self,
        in_channels: int,
        scale: int,
        num_classes: int = 19,
        compressed_channels: int = 64,
        learned: bool = False,
        ignore_index: int = 255,
        init_temperature: float | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__(in_channels, scale, num_classes, impl)
        if num_classes < 1 or compressed_channels < 1:
            raise ValueError("dupsampling: num_classes and compressed_channels must be >= 1")
        if init_temperature is not None and not init_temperature > 0:
            raise ValueError(f"dupsampling: init_temperature must be > 0 (or None to fit it), "
                             f"got {init_temperature!r}")
        self.init_temperature = init_temperature
        self.learned = learned
        self.ignore_index = ignore_index
        d = num_classes * scale * scale
        self.compressed_channels = min(compressed_channels, d)
        self.proj = nn.Conv2d(in_channels, self.compressed_channels, 1)
        w0 = _orthonormal(d, self.compressed_channels)
        b0 = torch.full((d,), 1.0 / num_classes)
        if learned:
            self.weight = nn.Parameter(w0 * math.sqrt(d / self.compressed_channels))
            self.bias = nn.Parameter(torch.zeros(d))
        else:
            self.register_buffer("weight", w0)
            self.register_buffer("bias", b0)
        self.temperature = nn.Parameter(torch.tensor(float(init_temperature or 1.0)))
        self.register_buffer("fitted", torch.tensor(False))

    def forward(
        self,
        x: torch.Tensor,
        guide: torch.Tensor | None = None,
        pyramid: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        self.check_input(x, None)
        f = self.proj(x)
        w, b = self.weight.to(f.dtype), self.bias.to(f.dtype)
        z = ops.dupsample(f, w, b, self.scale, impl=self.impl)
        return z / self.temperature.clamp_min(0.01).to(z.dtype)

    @torch.no_grad()
    def fit(self, dataloader, dense_limit: int = 4096) -> None:
        """Set W and the mean from the PCA of the loader's label patches (streamed covariance).

        ``dataloader`` yields ``(images, labels)`` batches with labels (N, H, W) at the output
        resolution; it is iterated once (dense covariance, C·r² ≤ ``dense_limit``) or twice
        (randomised two-pass PCA), and once more for the initial temperature unless
        ``init_temperature`` is given. Does nothing in the learned mode.
        """
        if self.learned:
            return
        w, mean = fit_label_pca(
            lambda: (_labels_of(b) for b in dataloader),
            self.num_classes,
            self.scale,
            self.compressed_channels,
            ignore_index=self.ignore_index,
            dense_limit=dense_limit,
        )
        self.weight.copy_(w.to(self.weight))
        self.bias.copy_(mean.to(self.bias))
        self.fitted.fill_(True)
        if self.init_temperature is None:
            labels, n = [], 0
            for b in dataloader:
                labels.append(_labels_of(b))
                n += labels[-1].shape[0]
                if n >= TEMPERATURE_FIT_IMAGES:
                    break
            self.temperature.fill_(self.best_temperature(torch.cat(labels)))

    @torch.no_grad()
    def best_temperature(self, labels: torch.Tensor) -> float:
        """The T (on a log grid from 10^-2.5 to 1) minimising the cross-entropy of ``labels``
        (N, H, W) decoded from their own optimal code (:meth:`encode_labels`)."""
        h, w = labels.shape[-2:]
        r = self.scale
        z = ops.dupsample(self.encode_labels(labels), self.weight, self.bias, r, impl=self.impl)
        z = z[..., :h, :w]
        grid = torch.logspace(-2.5, 0.0, 41, dtype=torch.float64)
        ce = [float(F.cross_entropy(z / t, labels.long(), ignore_index=self.ignore_index))
              for t in grid.tolist()]
        return float(grid[min(range(len(ce)), key=ce.__getitem__)])

    @torch.no_grad()
    def label_oracle(self, labels: torch.Tensor) -> dict[str, float] | None:
        """Paper Table 1's reconstruction ceiling on ``labels`` at this decoder's ratio: mIoU (%)
        of the labels rebuilt from their best 1/r code by bilinear and by this (fitted) decoder."""
        if not bool(self.fitted):
            return None
        r = self.scale
        return {"ratio": r, "compressed_channels": self.compressed_channels,
                "bilinear_mIoU": 100 * reconstruction_upper_bound(labels, r, "bilinear",
                                                                  self.num_classes,
                                                                  self.ignore_index),
                "dupsampling_mIoU": 100 * reconstruction_upper_bound(labels, r, self,
                                                                     self.num_classes,
                                                                     self.ignore_index)}

    @torch.no_grad()
    def encode_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The optimal code of a label map: F = Wᵀ(v − mean) per r×r patch, (N, C̃, ⌈H/r⌉, ⌈W/r⌉).

        W has orthonormal columns, so this is the least-squares code whose reconstruction
        ``ops.dupsample(F, W, mean, r)`` is closest to the one-hot labels.
        """
        n, h, w = labels.shape
        r = self.scale
        rows = label_patches(labels, self.num_classes, r, self.ignore_index).to(self.weight)
        code = (rows - self.bias) @ self.weight
        return code.view(n, -(-h // r), -(-w // r), -1).permute(0, 3, 1, 2).contiguous()


@register_upsampler("dupsampling-learned")
class LearnedDUpsampling(Upsampler):
    """DUpsampling as a learned linear feature upsampler (space "feature").

    Forward contract: ``forward(x, guide=None)`` with x (N, in_channels, h, w) returns
    (N, in_channels, s·h, s·w) = depth-to-space(W·x + b) (:func:`upbench.ops.dupsample`) with a
    trained W (in_channels·s², in_channels) and b. Equivalent to a 1×1 conv to C·s² channels plus
    pixel_shuffle, fused into one op. Init: PyTorch's 1×1-conv default (Kaiming uniform).
    """

    ops = ("dupsample",)

    def __init__(self, in_channels: int, scale: int, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        o = in_channels * scale * scale
        conv = nn.Conv2d(in_channels, o, 1)
        self.weight = nn.Parameter(conv.weight.detach().view(o, in_channels).clone())
        self.bias = nn.Parameter(conv.bias.detach().clone())

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return ops.dupsample(x, self.weight.to(x.dtype), self.bias.to(x.dtype), self.scale,
                             impl=self.impl)


def _miou(pred: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int) -> float:
    valid = (labels >= 0) & (labels < num_classes) & (labels != ignore_index)
    p, t = pred[valid], labels[valid]
    inter = torch.bincount(t[p == t], minlength=num_classes).double()
    area_p = torch.bincount(p, minlength=num_classes).double()
    area_t = torch.bincount(t, minlength=num_classes).double()
    union = area_p + area_t - inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else float("nan")


@torch.no_grad()
def reconstruction_upper_bound(
    labels: torch.Tensor,
    ratio: int,
    decoder: str | DUpsampling = "bilinear",
    num_classes: int | None = None,
    ignore_index: int = 255,
) -> float:
    """mIoU of ground-truth label maps rebuilt from 1/ratio resolution (paper Table 1's oracle).

    The paper trains a small CNN on the labels themselves to find the best low-resolution code;
    here the best code is computed directly, in the same spirit:

    * ``"bilinear"``: the one-hot labels (ignore → 0) are area-averaged to 1/ratio, bilinearly
      upsampled back (half-pixel centres) and arg-maxed.
    * a fitted :class:`DUpsampling`: each r×r patch is encoded by the orthogonal projection
      Wᵀ(v − mean) (:meth:`DUpsampling.encode_labels`), decoded with :func:`upbench.ops.dupsample`
      and arg-maxed; its ``scale`` must equal ``ratio``.

    Args:
        labels: integer label maps (N, H, W); H, W multiples of ratio.
        ratio: the downsampling ratio (16 or 32 in the paper).
        decoder: ``"bilinear"`` or a :class:`DUpsampling` module.
        num_classes: C (default: the decoder's, or max label + 1 for bilinear).
        ignore_index: pixels excluded from the mIoU.

    Returns:
        The mean IoU over classes present in labels or predictions.
    """
    _n, h, w = labels.shape
    if h % ratio or w % ratio:
        raise ValueError(f"reconstruction_upper_bound: H, W ({h}, {w}) must be multiples of {ratio}")
    labels = labels.long()
    if isinstance(decoder, DUpsampling):
        if decoder.scale != ratio:
            raise ValueError(f"reconstruction_upper_bound: decoder scale {decoder.scale} != {ratio}")
        c = decoder.num_classes if num_classes is None else num_classes
        code = decoder.encode_labels(labels)
        logits = ops.dupsample(code, decoder.weight, decoder.bias, ratio, impl=decoder.impl)
    elif decoder == "bilinear":
        valid = (labels >= 0) & (labels != ignore_index)
        c = int(labels[valid].max()) + 1 if num_classes is None else num_classes
        onehot = F.one_hot(torch.where(valid, labels, c), c + 1)[..., :c].permute(0, 3, 1, 2)
        low = F.avg_pool2d(onehot.float(), ratio)
        logits = F.interpolate(low, scale_factor=ratio, mode="bilinear", align_corners=False)
    else:
        raise ValueError(f"reconstruction_upper_bound: decoder must be 'bilinear' or a DUpsampling, "
                         f"got {decoder!r}")
    return _miou(logits.argmax(1), labels, c, ignore_index)
