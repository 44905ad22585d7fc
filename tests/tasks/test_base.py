"""The task interface (:mod:`upbench.tasks.base`): a metric's tight rerun tolerance, which the
gate applies to a rerun in the baseline's environment (tests/gate/test_environment.py)."""

from __future__ import annotations

import pytest

from upbench.tasks import Metric


def test_rerun_tolerance_defaults_to_the_last_shown_digit():
    assert Metric("mIoU", True, digits=2).rerun_tolerance == pytest.approx(0.01)
    assert Metric("abs_rel", False, digits=4).rerun_tolerance == pytest.approx(1e-4)
    assert Metric("x", True, rerun_tolerance=0.5).rerun_tolerance == 0.5
