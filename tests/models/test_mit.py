"""The MiT encoder: exact size, mmseg's key names, SegFormer's attention FLOP term."""

from __future__ import annotations

import pytest
import torch

from upbench.models.mit import MIT_SIZES, EfficientAttention, MixVisionTransformer


def test_mit_b1_has_exactly_the_official_parameter_count():
    assert sum(p.numel() for p in MixVisionTransformer("mit_b1").parameters()) == 13_151_424


def official_mmseg_keys(dims, depths, sr_ratios, mlp_ratio=4) -> dict[str, tuple[int, ...]]:
    """The state-dict names and shapes of NVlabs' MixVisionTransformer, written out from
    ``mmseg/models/backbones/mix_transformer.py`` (OverlapPatchEmbed proj/norm, Block norm1 /
    attn.q / attn.kv / attn.sr / attn.norm / attn.proj / norm2 / mlp.fc1 / mlp.dwconv.dwconv /
    mlp.fc2, the stage norms)."""
    keys: dict[str, tuple[int, ...]] = {}
    prev = 3
    for i, (c, depth, sr) in enumerate(zip(dims, depths, sr_ratios, strict=True), start=1):
        k = 7 if i == 1 else 3
        keys[f"patch_embed{i}.proj.weight"] = (c, prev, k, k)
        keys[f"patch_embed{i}.proj.bias"] = (c,)
        keys[f"patch_embed{i}.norm.weight"] = keys[f"patch_embed{i}.norm.bias"] = (c,)
        for j in range(depth):
            b = f"block{i}.{j}."
            for norm in ("norm1", "norm2"):
                keys[b + norm + ".weight"] = keys[b + norm + ".bias"] = (c,)
            keys[b + "attn.q.weight"], keys[b + "attn.q.bias"] = (c, c), (c,)
            keys[b + "attn.kv.weight"], keys[b + "attn.kv.bias"] = (2 * c, c), (2 * c,)
            keys[b + "attn.proj.weight"], keys[b + "attn.proj.bias"] = (c, c), (c,)
            if sr > 1:
                keys[b + "attn.sr.weight"], keys[b + "attn.sr.bias"] = (c, c, sr, sr), (c,)
                keys[b + "attn.norm.weight"] = keys[b + "attn.norm.bias"] = (c,)
            h = c * mlp_ratio
            keys[b + "mlp.fc1.weight"], keys[b + "mlp.fc1.bias"] = (h, c), (h,)
            keys[b + "mlp.dwconv.dwconv.weight"], keys[b + "mlp.dwconv.dwconv.bias"] = (
                (h, 1, 3, 3), (h,))
            keys[b + "mlp.fc2.weight"], keys[b + "mlp.fc2.bias"] = (c, h), (c,)
        keys[f"norm{i}.weight"] = keys[f"norm{i}.bias"] = (c,)
        prev = c
    return keys


@pytest.mark.parametrize("size", ["mit_b0", "mit_b1", "mit_b2"])
def test_module_names_and_shapes_are_mmsegs(size):
    cfg = MIT_SIZES[size]
    want = official_mmseg_keys(cfg.embed_dims, cfg.depths, cfg.sr_ratios)
    got = {k: tuple(v.shape) for k, v in MixVisionTransformer(size).state_dict().items()}
    assert got == want


def test_layer_norm_eps_as_the_official_code():
    m = MixVisionTransformer("mit_b1")
    assert m.block1[0].norm1.eps == m.norm4.eps == 1e-6  # partial(nn.LayerNorm, eps=1e-6)
    assert m.patch_embed1.norm.eps == m.block1[0].attn.norm.eps == 1e-5  # nn.LayerNorm(dim)


def test_outputs_and_drop_path():
    m = MixVisionTransformer("mit_b1")
    outs = m(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 16, 24), (2, 128, 8, 12), (2, 320, 4, 6),
                                              (2, 512, 2, 3)]
    rates = [getattr(b.drop_path, "p", 0.0) for i in range(1, 5) for b in getattr(m, f"block{i}")]
    assert rates == pytest.approx([0.1 * i / 7 for i in range(8)])  # linspace(0, 0.1, 8)
    m.eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(m(x)[3], m(x)[3])  # no stochastic depth in eval


def test_counted_macs_is_segformers_sra_term_at_512():
    """tools/get_flops.py: sra_flops(h, w, r, dim) = 2·h·w·(h//r)·(w//r)·dim per block, summed
    over the blocks of the four stages: 2.080 G at 512×512 for MiT-B1."""
    m = MixVisionTransformer("mit_b1").eval()
    total = []

    def hook(mod, inputs, output):
        total.append(mod.counted_macs(inputs, output))

    for mod in m.modules():
        if isinstance(mod, EfficientAttention):
            mod.register_forward_hook(hook)
    with torch.no_grad():
        m(torch.zeros(1, 3, 512, 512))
    per_stage = [2 * (128 * 128) * 256 * 64, 2 * (64 * 64) * 256 * 128,
                 2 * (32 * 32) * 256 * 320, 2 * (16 * 16) * 256 * 512]
    assert len(total) == 8 and sum(total) == 2 * sum(per_stage) == 2_080_374_784


def test_unknown_size_is_a_clear_error():
    with pytest.raises(ValueError, match="mit_b1"):
        MixVisionTransformer("mit_b9")
