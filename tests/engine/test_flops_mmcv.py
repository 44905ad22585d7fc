"""The mmcv FLOP convention against hand-computed counts (mmcv 1.2's hooks)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from upbench.engine.flops import CONVENTIONS, count_flops, count_params
from upbench.engine.flops_mmcv import module_hook
from upbench.upsamplers import create_upsampler


def mmcv(model: nn.Module, *inputs: torch.Tensor, part=None):
    return count_flops(model, inputs, part, convention="mmcv")


def test_conv_with_and_without_bias():
    x = torch.randn(1, 3, 10, 12)
    # 3x3, padding 1: 10*12 positions, 3*3*3*8 MACs each, + 8 per position for the bias
    assert mmcv(nn.Conv2d(3, 8, 3, padding=1), x).total == 120 * (27 * 8) + 120 * 8
    assert mmcv(nn.Conv2d(3, 8, 3, padding=1, bias=False), x).total == 120 * 27 * 8
    # stride 2, groups 4 (depthwise-ish): 5*6 positions, 3*3*(8/4)*8 each
    conv = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4, bias=False)
    assert mmcv(conv, torch.randn(1, 8, 10, 12)).total == 30 * 9 * 2 * 8


def test_batch_norm_relu_and_linear():
    x = torch.randn(1, 4, 5, 6)
    assert mmcv(nn.BatchNorm2d(4), x).total == 2 * 120
    assert mmcv(nn.BatchNorm2d(4, affine=False), x).total == 120
    for act in (nn.ReLU(), nn.ReLU6(), nn.ELU(), nn.LeakyReLU(), nn.PReLU()):
        assert mmcv(act, x).total == 120, type(act).__name__
    # Linear: input elements x out_features, no bias term (as mmcv)
    assert mmcv(nn.Linear(6, 7), x).total == 120 * 7
    assert mmcv(nn.Linear(6, 7, bias=False), x).total == 120 * 7


def test_not_counted_modules_and_functional_calls():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = nn.LayerNorm(6)
            self.gelu = nn.GELU()

        def forward(self, x):
            y = self.gelu(self.ln(x))
            y = torch.nn.functional.interpolate(y, scale_factor=2, mode="bilinear")
            return y @ y.transpose(-1, -2) + 1

    rep = mmcv(Net(), torch.randn(1, 4, 5, 6))
    assert rep.total == 0
    assert rep.uncounted == {"LayerNorm": 1, "GELU": 1}
    assert rep.as_dict()["uncounted_modules"] == {"LayerNorm": 1, "GELU": 1}


def test_pooling_upsample_and_deconv():
    x = torch.randn(1, 4, 8, 8)
    assert mmcv(nn.MaxPool2d(2), x).total == 256
    assert mmcv(nn.AdaptiveAvgPool2d(1), x).total == 256
    assert mmcv(nn.Upsample(scale_factor=2, mode="bilinear"), x).total == 4 * 16 * 16
    # deconv: per input position kh*kw*Cin*Cout, + Cout per output position for the bias
    assert mmcv(nn.ConvTranspose2d(4, 2, 2, stride=2), x).total == 64 * 4 * 4 * 2 + 2 * 256


def test_module_with_counted_macs_and_nested_modules():
    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)

        def forward(self, x):  # (N, L, C)
            a = (x @ x.transpose(1, 2)).softmax(-1)
            return self.proj(a @ x)

        def counted_macs(self, inputs, output):
            n, length, c = inputs[0].shape
            return 2 * n * length * length * c

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = Attention()

        def forward(self, x):
            return self.att(x)

    rep = mmcv(Net(), torch.randn(1, 10, 8))
    assert rep.by_module["att.proj"] == 10 * 8 * 8
    assert rep.by_module["att"] == rep.total == 10 * 8 * 8 + 2 * 10 * 10 * 8
    assert rep.by_operator == {"Linear": 640, "counted_macs:Attention": 1600}


def test_upbench_op_counted_by_its_formula():
    """CARAFE: the two convs by the hooks (bias included), the reassembly op by its formula
    K²·s²·C per low-res location, softmax and pixel_shuffle not counted."""
    up = create_upsampler("carafe", 16, 2, compressed_channels=8)

    class Host(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = up

        def forward(self, x):
            return self.up(x)

    hw = 6 * 7
    rep = mmcv(Host(), torch.randn(1, 16, 6, 7), part=["up"])
    compressor = hw * (16 * 8 + 8)
    encoder = hw * (9 * 8 * 100 + 100)
    reassembly = hw * 4 * 25 * 16
    assert rep.by_operator["upbench::carafe"] == reassembly
    assert rep.by_operator["Conv2d"] == compressor + encoder
    assert rep.total == rep.part == compressor + encoder + reassembly
    assert rep.convention == "mmcv" and rep.as_dict()["convention"] == "mmcv"


def test_sapa_b_matches_its_table_formula():
    """SAPA-B under mmcv: Linear hooks without bias and the two ops = SAPA Table 1's B total
    5Cd + 4K²d + 4K²C per low-res location (the LayerNorms are not counted)."""
    c, d, k = 16, 8, 5
    up = create_upsampler("sapa-b", c, 2, embed_dim=d)

    class Host(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = up

        def forward(self, x, g):
            return self.up(x, g)

    hw = 4 * 5
    rep = mmcv(Host(), torch.randn(1, c, 4, 5), torch.randn(1, c, 8, 10))
    assert rep.total == hw * (5 * c * d + 4 * k * k * d + 4 * k * k * c)


def test_batch_is_divided_out_and_mode_restored():
    m = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    m.train()
    one = mmcv(m, torch.randn(1, 3, 5, 5)).total
    assert mmcv(m, torch.randn(3, 3, 5, 5)).total == one
    assert m.training


def test_subclasses_use_their_base_hook_and_unknown_convention():
    class MyConv(nn.Conv2d):
        pass

    assert module_hook(MyConv(1, 1, 1)) is module_hook(nn.Conv2d(1, 1, 1))
    assert module_hook(nn.LayerNorm(3)) is None
    assert CONVENTIONS == ("fvcore", "mmcv", "sapa")
    with pytest.raises(ValueError, match="unknown FLOP convention 'ptflops'"):
        count_flops(nn.ReLU(), (torch.randn(1, 1),), convention="ptflops")


def test_trainable_params():
    m = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1))
    for p in m[0].parameters():
        p.requires_grad_(False)
    assert count_params(m, ["1"]) == {"total": 36, "upsampler": 20}
    assert count_params(m, ["0"], "trainable") == {"total": 20, "upsampler": 0}
    with pytest.raises(ValueError, match="unknown parameter count"):
        count_params(m, [], "frozen")


class Slots(nn.Module):
    """The geometry of SegFormer-B1's SAPA slots at 512×512 scaled down 8× per side (every count
    is per location, so ×64 gives 512×512's): 256-channel maps, c4 cascaded 2→4→8→16, c3 4→8→16,
    c2 8→16, each guided by a 256-channel map at its target size."""

    def __init__(self, name: str):
        super().__init__()
        self.ups = nn.ModuleList(create_upsampler(name, 256, 2) for _ in range(6))
        self.names = [f"ups.{i}" for i in range(6)]

    def forward(self, c4, c3, c2, g16, g32, g64, g128):
        guides = {2: g32, 4: g64, 8: g128}
        i, outs = 0, []
        for x, steps in ((c4, 3), (c3, 2), (c2, 1)):
            for _ in range(steps):
                x = self.ups[i](x, guides[x.shape[-1]])
                i += 1
            outs.append(x)
        return torch.cat(outs, 1)


def slot_inputs():
    return tuple(torch.randn(1, 256, s, s) for s in (2, 4, 8, 2, 4, 8, 16))


@pytest.mark.parametrize("name, delta_g, conv_bias", [
    ("carafe", 1.45, 14592 * (64 + 100)), ("sapa-i", 0.75, 0), ("sapa-b", 1.02, 0)])
def test_sapa_table2_deltas_on_the_slot_geometry(name, delta_g, conv_bias):
    """SAPA Table 2 (SegFormer-B1): the six slots' MACs are the printed deltas. The sapa
    convention counts each slot by its formula (no bias adds); mmcv's hooks add CARAFE's conv
    biases (164 per low-res location over 14,592 locations), which tips +1.4531 to +1.4555."""
    m = Slots(name)
    sapa = count_flops(m, slot_inputs(), m.names, convention="sapa")
    mm = count_flops(m, slot_inputs(), m.names, convention="mmcv")
    assert round(64 * sapa.part / 1e9, 2) == delta_g
    assert sapa.part == sum(u.macs((1, 256, s, s)) for u, s in zip(m.ups, (2, 4, 8, 4, 8, 8), strict=True))
    assert sapa.formula_slots == m.names and sapa.as_dict()["formula_slots"] == m.names
    assert 64 * mm.part == 64 * sapa.part + conv_bias
    if name == "carafe":
        assert 64 * sapa.part == 14592 * 99_584  # SAPA Table 1: HW·(Cd + 36K²d + 4K²C)
        assert round(64 * mm.part / 1e9, 2) == 1.46


def test_plain_bilinear_op_is_not_counted_by_mmcv():
    up = create_upsampler("bilinear", 8, 2)
    rep = count_flops(nn.Sequential(up), (torch.randn(1, 8, 4, 4),), convention="mmcv")
    assert rep.total == 0 and rep.uncounted == {"upbench::bilinear_upsample": 1}
    assert count_flops(nn.Sequential(up), (torch.randn(1, 8, 4, 4),)).total == 4 * 8 * 64
