"""A cell's CPU numerics: denormals flushed on every intra-op thread (not only the calling one),
what is in effect recorded, the previous state restored; the suite key and its hash."""

from __future__ import annotations

import pytest
import torch

from upbench.engine import expand
from upbench.engine.numerics import cpu_numerics, describe, probe, set_flush
from upbench.engine.suite import build_suite
from upbench.utils.schema import ConfigError

TINY = {"name": "tiny", "input_size": [32, 32],
        "dataset": {"num_classes": 4, "train_size": 4, "val_size": 2},
        "model": {"widths": [4, 4, 4, 4], "decoder_channels": 4},
        "train": {"iterations": 1, "batch_size": 2}, "upsamplers": ["bilinear"], "threads": 1}


@pytest.fixture
def two_threads():
    """Two intra-op threads whose pool already exists (created before any flushing)."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    set_flush(False)
    probe()  # runs a parallel region: the worker thread exists from here on
    yield
    set_flush(False)
    torch.set_num_threads(old)


def test_flush_reaches_every_intra_op_thread_and_is_undone(two_threads):
    assert probe() == 0.0
    with cpu_numerics(2, "flush") as state:
        assert state == {"threads": 2, "denormals": "flush"}
        assert probe() == 1.0
        assert torch.full((4,), 1e-30).mul(1e-10).eq(0).all()
    assert probe() == 0.0 and torch.get_num_threads() == 2


def test_keep_keeps_denormals(two_threads):
    with cpu_numerics(2, "keep") as state:
        assert state["denormals"] == "keep"
        assert torch.full((4,), 1e-30).mul(1e-10).ne(0).all()


def test_nested_cells_restore_the_outer_state(two_threads):
    with cpu_numerics(2, "flush"):
        with cpu_numerics(1, "keep") as inner:
            assert inner == {"threads": 1, "denormals": "keep"}
        assert torch.get_num_threads() == 2 and probe() == 1.0
    assert probe() == 0.0


def test_a_result_records_what_is_in_effect_not_what_was_asked():
    assert describe("flush", 1.0) == "flush" and describe("keep", 0.0) == "keep"
    assert describe("flush", 0.5) == ("flush on 50% of the threads' work (the others keep "
                                      "denormals)")
    assert describe("flush", 0.0) == "keep (this CPU cannot flush denormals)"
    assert describe("keep", 0.25) == "keep (yet 25% flushed)"
    with pytest.raises(ValueError, match="denormals must be one of"), cpu_numerics(1, "zero"):
        pass


def test_the_suite_key_enters_the_cell_hash_only_when_set():
    default = expand(build_suite(dict(TINY)))[0]
    keep = expand(build_suite(dict(TINY, denormals="keep")))[0]
    flush = expand(build_suite(dict(TINY, denormals="flush")))[0]
    assert "denormals" not in default.config and default.hash == keep.hash
    assert flush.config["denormals"] == "flush" and flush.hash != default.hash
    with pytest.raises(ConfigError, match="denormals"):
        build_suite(dict(TINY, denormals="zero"))
