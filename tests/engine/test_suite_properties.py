"""Property-based checks of the suite parser (hypothesis): any value at any key of a suite, or
any ``--set`` override, is either accepted or refused with a :class:`ConfigError` naming the key
— never another exception — and ``--set`` reads numbers, booleans and lists as YAML does."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upbench.engine.suite import apply_overrides, build_suite, parse_value
from upbench.utils.schema import ConfigError

BASE = {"name": "p", "task": "segmentation", "input_size": [32, 32],
        "dataset": {"num_classes": 4, "train_size": 4, "val_size": 2},
        "model": {"widths": [4, 4, 4, 4], "decoder_channels": 4},
        "train": {"iterations": 1, "batch_size": 2}, "upsamplers": ["bilinear"],
        "metrics": {"trimap_widths": [1]}}

KEYS = ["name", "task", "baseline", "input_size", "seeds", "threads", "device", "impl",
        "upsamplers", "exclude", "expected_minutes", "train.iterations", "train.lr",
        "train.optimizer", "train.schedule", "train.grad_clip", "dataset.num_classes",
        "dataset.kind", "dataset.root", "model.widths", "model.decoder_channels",
        "profile.flops_size", "profile.latency_repeats", "profile.speed_reference",
        "metrics.trimap_widths", "executor.kind", "nosuch", "train.nosuch"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 300),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.sampled_from(["all", "bilinear", "carafe", "adamw", "cpu", "synthetic"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


def _set(raw: dict, dotted: str, value) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    node = out
    *parents, last = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
def test_any_value_at_any_key_is_accepted_or_a_config_error(changes):
    raw = BASE
    for key, value in changes:
        raw = _set(raw, key, value)
    try:
        suite = build_suite(raw, "p.yaml")
    except ConfigError as e:
        assert str(e).startswith("p.yaml: ")
        return
    assert suite.name == raw["name"] and suite.upsamplers


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(KEYS), st.text(max_size=12))
def test_any_set_override_is_accepted_or_a_config_error(key, text):
    try:
        build_suite(apply_overrides(BASE, [f"{key}={text}"], "p.yaml"), "p.yaml")
    except ConfigError:
        pass


@given(st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=4),
                 st.floats(allow_nan=False, allow_infinity=False)))
def test_set_values_read_as_yaml(value):
    text = {True: "true", False: "false"}.get(value, None) if isinstance(value, bool) else None
    text = text or (repr(value) if isinstance(value, float) else str(value))
    got = parse_value(text)
    if isinstance(value, float):
        assert math.isclose(got, value, rel_tol=1e-12, abs_tol=0)
    else:
        assert got == value and type(got) is type(value)


def test_control_characters_are_a_config_error_not_a_crash(tmp_path):
    """Found by the property above: PyYAML's reader refused them before the parse was guarded."""
    import pytest

    from upbench.engine import load_suite

    f = tmp_path / "s.yaml"
    f.write_text("name: a\x1f\n")
    with pytest.raises(ConfigError, match="invalid YAML.*special characters"):
        load_suite(f)
