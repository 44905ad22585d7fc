"""The recipe schedule keys: poly power and floor, mmcv-style warm-up ratio, step milestones,
per-name lr multipliers; defaults give the historical schedule."""

from __future__ import annotations

import math

import pytest
from torch import nn

from upbench.engine.suite import TrainConfig, build_suite, expand
from upbench.engine.train import lr_factor, make_optimizer
from upbench.utils.schema import ConfigError


def test_defaults_are_the_historical_schedule():
    cfg = TrainConfig(iterations=100, warmup_iters=10)
    assert lr_factor(0, cfg) == 1 / 10 and lr_factor(9, cfg) == 1.0
    assert lr_factor(55, cfg) == (1 - 45 / 90) ** 0.9


def test_segformer_poly_and_mmcv_warmup():
    cfg = TrainConfig(iterations=160_000, warmup_iters=1500, warmup_ratio=1e-6, power=1.0)
    assert lr_factor(0, cfg) == pytest.approx(1e-6)
    assert lr_factor(750, cfg) == pytest.approx(0.5, abs=1e-6)
    assert lr_factor(1500 + (160_000 - 1500) // 2, cfg) == pytest.approx(0.5, abs=1e-5)


def test_bts_poly_ends_at_a_tenth():
    cfg = TrainConfig(iterations=1000, power=0.9, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == 1.0 and lr_factor(1000, cfg) == pytest.approx(0.1)
    assert lr_factor(500, cfg) == pytest.approx(0.1 + 0.9 * 0.5 ** 0.9)
    cos = TrainConfig(iterations=1000, schedule="cosine", min_lr_ratio=0.1)
    assert lr_factor(500, cos) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))


def test_mmdet_step_schedule():
    cfg = TrainConfig(iterations=120, schedule="step", milestones=[80, 110], gamma=0.1,
                      warmup_iters=5, warmup_ratio=0.001)
    assert lr_factor(0, cfg) == pytest.approx(0.001)
    assert [lr_factor(i, cfg) for i in (5, 79, 80, 109, 110, 119)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])


def test_lr_mult_groups():
    model = nn.ModuleDict({"backbone": nn.Conv2d(3, 4, 3), "head": nn.Conv2d(4, 2, 1)})
    opt = make_optimizer(model, TrainConfig(lr=1e-3, lr_mult={"head": 10.0}))
    by_lr = {(g["lr"], g["weight_decay"]): len(g["params"]) for g in opt.param_groups}
    assert by_lr == {(1e-3, 1e-4): 1, (1e-3, 0.0): 1, (1e-2, 1e-4): 1, (1e-2, 0.0): 1}
    plain = make_optimizer(model, TrainConfig(lr=1e-3))
    assert len(plain.param_groups) == 2


@pytest.mark.parametrize(("train", "match"), [
    ({"schedule": "step"}, "needs milestones"),
    ({"milestones": [3]}, "only apply to schedule: step"),
    ({"schedule": "step", "milestones": [5, 3]}, "increasing order"),
    ({"lr_mult": {"head": 0}}, "positive number"),
    ({"power": 0}, "must be > 0"),
])
def test_bad_schedules(train, match):
    with pytest.raises(ConfigError, match=match):
        build_suite({"name": "s", "train": train})


def test_new_keys_stay_out_of_the_hash_at_their_defaults():
    a = build_suite({"name": "s"})
    b = build_suite({"name": "s", "train": {"power": 0.9, "min_lr_ratio": 0.0, "gamma": 0.1,
                                            "milestones": [], "lr_mult": {}}})
    assert expand(a)[0].hash == expand(b)[0].hash
