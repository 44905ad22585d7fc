"""train.augment: torchvision v2 scale jitter + crop and photometric jitter keep labels, depth
and boxes consistent with the image, are seeded per sample, and are off by default."""

from __future__ import annotations

import pytest
import torch

from upbench.data.augment import AugmentConfig, DenseAugment, DetectionAugment, sample_seeds
from upbench.engine import expand
from upbench.engine.loader import batch_keys, stream, with_seeds
from upbench.engine.suite import build_suite
from upbench.utils.schema import ConfigError

SCALE = AugmentConfig(scale=[0.5, 2.0])


def _regions(n=4, h=32, w=32):
    """Images whose value is their label (4 big quadrants), labels 0..3."""
    y = torch.zeros(n, h, w, dtype=torch.long)
    y[:, :h // 2, w // 2:], y[:, h // 2:, :w // 2], y[:, h // 2:, w // 2:] = 1, 2, 3
    x = y[:, None].float().expand(n, 3, h, w).clone() + 1  # 1..4, padding is 0
    return x, y


def test_labels_move_with_the_image():
    x, y = _regions()
    aug = DenseAugment(SCALE, (32, 32), None, 255)
    (xa,), ya = aug(((x,), y), sample_seeds(0, 5, 4))
    assert xa.shape == x.shape and ya.shape == y.shape and ya.dtype == torch.long
    assert not torch.equal(ya, y)  # something moved
    valid = ya != 255
    agree = (xa[:, 0].round() == (ya + 1).float()) & valid
    assert agree.sum() >= 0.95 * valid.sum()  # (bilinear image vs nearest label at edges)
    assert torch.all(xa[:, 0][~valid] == 0)  # padding: ignore label under a zero image
    # per-sample seeds: the same seeds give the same batch, others another
    (xb,), yb = aug(((x,), y), sample_seeds(0, 5, 4))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    (_,), yc = aug(((x,), y), sample_seeds(0, 6, 4))
    assert not torch.equal(ya, yc)


def test_depth_is_padded_as_invalid_and_photometric_leaves_targets():
    x, y = _regions()
    d = {"depth": (y[:, None].float() + 1)}
    aug = DenseAugment(AugmentConfig(scale=[0.5, 0.6], photometric=True), (32, 32), "depth", 0.0)
    _, da = aug(((x,), d), sample_seeds(1, 0, 4))
    assert da["depth"].shape == (4, 1, 32, 32)
    assert (da["depth"] == 0).any()  # downscaled by half: padded, invalid depth
    assert set(da["depth"].unique().tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    only_colour = DenseAugment(AugmentConfig(photometric=True), (32, 32), None, 255)
    (xc,), yc = only_colour(((x,), y), sample_seeds(1, 0, 4))
    assert torch.equal(yc, y) and not torch.equal(xc, x)


def test_boxes_follow_the_image():
    x = torch.zeros(2, 3, 64, 64)
    x[:, :, 16:40, 8:24] = 1.0
    t = {"boxes": torch.tensor([[8.0, 16.0, 24.0, 40.0]]), "labels": torch.tensor([2]),
         "iscrowd": torch.tensor([0]), "area": torch.tensor([384.0])}
    aug = DetectionAugment(AugmentConfig(scale=[0.8, 1.5]), (64, 64))
    for it in range(4):
        (xa,), ta = aug(((x,), [dict(t), dict(t)]), sample_seeds(0, it, 2))
        for i, tt in enumerate(ta):
            assert set(tt) == set(t) and len(tt["boxes"]) == len(tt["labels"]) == len(tt["area"])
            for b in tt["boxes"]:
                x0, y0, x1, y1 = b.round().int().tolist()
                inside = xa[i, 0, y0 + 1:y1 - 1, x0 + 1:x1 - 1]
                assert inside.numel() and inside.mean() > 0.9


def _suite(**train):
    return build_suite({"name": "a", "input_size": [32, 32], "threads": 1,
                        "dataset": {"num_classes": 3, "train_size": 8, "val_size": 2},
                        "model": {"widths": [4, 4, 8, 8], "decoder_channels": 8},
                        "upsamplers": ["nearest"],
                        "train": {"iterations": 2, "batch_size": 2} | train})


def test_off_by_default_and_in_the_hash_when_set():
    plain, aug = _suite(), _suite(augment={"scale": [0.5, 2.0]})
    assert "augment" not in expand(plain)[0].config["train"]
    assert expand(aug)[0].config["train"]["augment"] == {"scale": [0.5, 2.0],
                                                         "photometric": False}
    assert plain.task_def.augmentation(plain) is None
    with pytest.raises(ConfigError, match="min <= max"):
        _suite(augment={"scale": [2.0, 0.5]})
    with pytest.raises(ConfigError, match="has no training augmentations"):
        build_suite({"name": "m", "task": "matting", "train": {"augment": {"photometric": True}}})


def test_workers_see_the_same_augmented_batches():
    suite = _suite(augment={"scale": [0.5, 2.0], "photometric": True})
    tr, _ = suite.task_def.splits(suite)
    aug = suite.task_def.augmentation(suite)

    def keys():
        return with_seeds(batch_keys(len(tr), 2, torch.Generator().manual_seed(0), True), 0)

    a = stream(tr, keys(), 0, torch.device("cpu"), 0, aug)
    b = stream(tr, keys(), 2, torch.device("cpu"), 0, aug)
    for _ in range(3):
        (xa,), ya = next(a)
        (xb,), yb = next(b)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
