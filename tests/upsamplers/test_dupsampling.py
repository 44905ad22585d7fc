"""DUpsampling: PCA fit, reconstruction bound vs bilinear, forward/backward contract."""

from __future__ import annotations

import pytest
import torch

from upbench.upsamplers import create_upsampler
from upbench.upsamplers._label_pca import label_patches
from upbench.upsamplers.dupsampling import reconstruction_upper_bound


def synthetic_labels(n: int, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """Label maps: background 0 with random ellipses and rectangles of classes 1..C-1."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        for _ in range(6):
            c = int(torch.randint(1, num_classes, (1,), generator=g))
            cy, cx = (torch.rand(2, generator=g) * size).tolist()
            ry, rx = (4 + torch.rand(2, generator=g) * size / 3).tolist()
            if torch.rand(1, generator=g) < 0.5:
                m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            else:
                m = ((yy - cy).abs() <= ry) & ((xx - cx).abs() <= rx)
            out[i][m] = c
    return out


def _loader(labels: torch.Tensor, batch: int = 8):
    return [(torch.zeros(len(labels[s:s + batch]), 3, 1, 1), labels[s:s + batch])
            for s in range(0, len(labels), batch)]


def test_label_patch_ordering_matches_dupsample():
    lab = torch.tensor([[[0, 1], [2, 255]]])
    rows = label_patches(lab, num_classes=3, ratio=2)
    want = torch.zeros(1, 12)
    want[0, (0 * 2 + 0) * 2 + 0] = 1  # class 0 at (0, 0)
    want[0, (1 * 2 + 0) * 2 + 1] = 1  # class 1 at (0, 1)
    want[0, (2 * 2 + 1) * 2 + 0] = 1  # class 2 at (1, 0); (1, 1) ignored -> zero
    torch.testing.assert_close(rows, want)


def test_full_rank_pca_reconstructs_training_patches_exactly():
    labels = synthetic_labels(6, 16, 3, seed=0)
    labels[0, :3, :5] = 255
    up = create_upsampler("dupsampling", 8, 2, num_classes=3, compressed_channels=12, impl="native")
    up.fit(_loader(labels, 4))
    assert bool(up.fitted)
    w = up.weight.double()
    torch.testing.assert_close(w.t() @ w, torch.eye(12, dtype=torch.float64), atol=1e-5, rtol=0)
    from upbench import ops

    rebuilt = ops.dupsample(up.encode_labels(labels), up.weight, up.bias, 2, impl="native")
    # the reconstructed values themselves equal the one-hot (ignore pixels -> zero vector)
    valid = (labels != 255).unsqueeze(1)
    oh = torch.nn.functional.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2) * valid
    torch.testing.assert_close(rebuilt, oh.float(), atol=1e-4, rtol=0)


def test_dupsampling_beats_bilinear_at_ratio_16_and_32():
    train = synthetic_labels(48, 128, 5, seed=1)
    test = synthetic_labels(16, 128, 5, seed=2)
    for ratio in (16, 32):  # D = 5·r² = 1280 (dense covariance) and 5120 (randomised PCA)
        up = create_upsampler("dupsampling", 4, ratio, num_classes=5, compressed_channels=32)
        up.fit(_loader(train))
        bil = reconstruction_upper_bound(test, ratio, "bilinear", num_classes=5)
        dup = reconstruction_upper_bound(test, ratio, up)
        assert dup > bil + 0.03, (ratio, dup, bil)


def test_forward_backward_and_temperature():
    up = create_upsampler("dupsampling", 16, 4, num_classes=3, compressed_channels=8)
    x = torch.randn(2, 16, 3, 5, requires_grad=True)
    out = up(x)
    assert out.shape == (2, 3, 12, 20)
    out.square().mean().backward()
    assert x.grad is not None and up.temperature.grad is not None
    assert up.weight.requires_grad is False
    learned = create_upsampler("dupsampling", 16, 4, num_classes=3, learned=True)
    learned(x).sum().backward()
    assert learned.weight.grad is not None and learned.bias.grad is not None
    feat = create_upsampler("dupsampling-learned", 6, 3)
    y = feat(torch.randn(1, 6, 2, 3))
    assert y.shape == (1, 6, 6, 9) and feat.space == "feature"


def test_default_segmentation_config():
    up = create_upsampler("dupsampling", 64, 32, num_classes=19)
    x = torch.randn(1, 64, 2, 2)
    out = up(x, guide=torch.randn(1, 64, 16, 16))
    assert out.shape == (1, 19, 64, 64)


def test_randomised_pca_matches_dense_pca():
    from upbench.upsamplers._label_pca import fit_label_pca

    labels = synthetic_labels(24, 64, 4, seed=5)
    batches = lambda: (labels[i:i + 8] for i in range(0, 24, 8))
    w_dense, m_dense = fit_label_pca(batches, 4, 8, 12, dense_limit=10**6)
    w_rand, m_rand = fit_label_pca(batches, 4, 8, 12, dense_limit=0, oversample=32)
    torch.testing.assert_close(m_rand, m_dense)
    v = label_patches(labels, 4, 8) - m_dense

    def err(w):
        return float((v - v @ w @ w.t()).square().sum())

    assert err(w_rand) <= 1.05 * err(w_dense)
    torch.testing.assert_close(w_rand.t() @ w_rand, torch.eye(12), atol=1e-4, rtol=0)


def test_fit_sets_the_temperature_that_sharpens_the_oracle_reconstruction():
    from upbench.engine.train import FitPasses
    from upbench.upsamplers.dupsampling import reconstruction_upper_bound

    labels = torch.zeros(8, 32, 32, dtype=torch.long)
    for i in range(8):
        labels[i, : 4 + 3 * i, :] = 1
        labels[i, :, 20 - i:] = 2

    class Split:
        def __len__(self):
            return 8

        def batch(self, idx, flip=None):
            return (torch.zeros(len(idx), 3, 32, 32),), labels[idx]

    up = create_upsampler("dupsampling", 4, 16, num_classes=3, compressed_channels=8)
    assert float(up.temperature.detach()) == 1.0
    up.fit(FitPasses(Split(), 4))
    t = float(up.temperature.detach())
    assert 0.003 < t < 1.0 and t == pytest.approx(up.best_temperature(labels))
    oracle = up.label_oracle(labels)
    assert oracle["ratio"] == 16
    assert oracle["dupsampling_mIoU"] == pytest.approx(
        100 * reconstruction_upper_bound(labels, 16, up, 3))
    assert oracle["dupsampling_mIoU"] > oracle["bilinear_mIoU"]
    paper = create_upsampler("dupsampling", 4, 16, num_classes=3, compressed_channels=8,
                             init_temperature=1.0)
    paper.fit(FitPasses(Split(), 4))
    assert float(paper.temperature.detach()) == 1.0  # the paper's initialisation, kept
    with pytest.raises(ValueError, match="init_temperature"):
        create_upsampler("dupsampling", 4, 16, init_temperature=0.0)
