"""The shared number checks (:mod:`upbench.utils.numbers`)."""

from __future__ import annotations

import math

import click
import pytest

from upbench.utils import numbers
from upbench.utils.numbers import Number, NumberError, check_fits, check_number


@pytest.mark.parametrize("value, kw, match", [
    (float("nan"), {}, "must be a finite number, got nan"),
    (float("inf"), {}, "must be a finite number, got inf"),
    (-math.inf, {"integral": True}, "must be a finite number"),
    (True, {}, "must be a number, got True"),
    ("3", {"integral": True}, "must be an integer, got '3'"),
    (None, {}, "must be a number, got None"),
    (2.5, {"integral": True}, "must be an integer, got 2.5"),
    (0, {"ge": 1}, "must be >= 1, got 0"),
    (0, {"gt": 0}, "must be > 0, got 0"),
    (2**70, {"le": 2**63 - 1}, "must be <= 2\\*\\*63 - 1, got 2\\*\\*70"),
    (1.0, {"lt": 1.0}, "must be < 1, got 1"),
])
def test_refused(value, kw, match):
    with pytest.raises(NumberError, match="x " + match):
        check_number(value, "x", **kw)


def test_accepted_and_normalised():
    assert check_number(4.0, "x", integral=True) == 4 and isinstance(
        check_number(4.0, "x", integral=True), int)
    assert check_number(0.5, "x", ge=0, le=1) == 0.5
    assert issubclass(NumberError, ValueError) and issubclass(NumberError, TypeError)


def test_check_fits(monkeypatch):
    monkeypatch.setattr(numbers, "available_memory", lambda: 2**30)
    check_fits(2**20, 4, "t", copies=2)
    with pytest.raises(NumberError, match=r"t needs about 4 GiB \(1.074e\+09 elements × 4 B\) "
                                          r"but 1 GiB of memory is available; use a smaller"):
        check_fits(2**30, 4, "t")
    with pytest.raises(NumberError, match="more than a tensor can index"):
        check_fits(2**64, 1, "t")
    monkeypatch.setattr(numbers, "available_memory", lambda: None)  # unknown: only the index
    check_fits(2**40, 4, "t")


def test_the_click_type():
    t = Number(ge=1, le=8)
    assert t.convert("3", None, None) == 3 and t.convert("3.0", None, None) == 3
    for bad in ("0", "9", "nan", "x", "1e400"):
        with pytest.raises(click.BadParameter):
            t.convert(bad, None, None)
    assert Number(False, gt=0).convert("0.25", None, None) == 0.25
