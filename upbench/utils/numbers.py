"""One validation layer for numbers: finite, in range, integral where integral, and sizes that fit.

Used by the op front-ends (:func:`upbench.ops._checks.check_int`), the command-line options
(:class:`Number`, a click parameter type) and the suite schema's seed bounds, so that ``nan``,
``inf``, ``-1`` threads, a seed of ``2**70`` or a tensor of 10¹² elements end in one clear
message naming the value, the limit and the fix instead of an overflow deep inside torch.
"""

from __future__ import annotations

import math
import os
from typing import Any

import click

#: largest seed: torch.manual_seed and numpy take 64-bit seeds; signed keeps it portable (JSON,
#: int64 tensors)
SEED_MAX = 2**63 - 1
#: largest element count of one tensor (int64 indexing)
INT64_MAX = 2**63 - 1


class NumberError(ValueError, TypeError):
    """A number that is not usable: not a number, not finite, not integral, or out of range.

    A ValueError and a TypeError, so callers catching either (as the ops' callers did for wrong
    types) keep working."""


def _fmt(v: float) -> str:
    if isinstance(v, int) and v >= 2**20:
        if v & (v + 1) == 0:
            return f"2**{v.bit_length()} - 1"
        if v & (v - 1) == 0:
            return f"2**{v.bit_length() - 1}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def check_number(value: Any, name: str, *, integral: bool = False, ge: float | None = None,
                 gt: float | None = None, le: float | None = None, lt: float | None = None,
                 why: str = "") -> int | float:
    """``value`` as an int (``integral``) or float, checked.

    Floats must be finite; an integral float (``4.0``) is accepted as the int; bools are refused.

    Args:
        value: the number to check.
        name: how the message names it (``--threads``, ``bilinear: scale_factor``).
        integral: it must be a whole number.
        ge, gt, le, lt: inclusive / exclusive limits.
        why: appended to the message (the reason or the fix).

    Raises:
        NumberError: naming ``name``, the value and the limit broken.
    """
    tail = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integral else "a number"
        raise NumberError(f"{name} must be {kind}, got {value!r}{tail}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberError(f"{name} must be a finite number, got {value}{tail}")
        if integral:
            if not value.is_integer():
                raise NumberError(f"{name} must be an integer, got {value!r}{tail}")
            value = int(value)
    for limit, ok, word in ((ge, lambda a, b: a >= b, ">="), (gt, lambda a, b: a > b, ">"),
                            (le, lambda a, b: a <= b, "<="), (lt, lambda a, b: a < b, "<")):
        if limit is not None and not ok(value, limit):
            raise NumberError(f"{name} must be {word} {_fmt(limit)}, got {_fmt(value)}{tail}")
    return value


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def gib(nbytes: float) -> str:
    """``12.3 GiB``."""
    v = nbytes / 2**30
    return f"{v:.3g} GiB" if v < 1000 else f"{v:,.0f} GiB"


def check_fits(numel: int, element_size: int, what: str, copies: float = 1.0,
               fix: str = "use a smaller size") -> None:
    """Refuse a tensor of ``numel`` elements (``copies`` of it live at once) that overflows int64
    indexing or would not fit in the memory available now, with the estimate.

    Raises:
        NumberError: naming ``what``, the elements, the bytes needed and the bytes available.
    """
    if numel > INT64_MAX:
        raise NumberError(f"{what} would have {numel:.3g} elements, more than a tensor can index "
                          f"(2**63); {fix}")
    need = numel * element_size * copies
    avail = available_memory()
    if avail is not None and need > avail:
        raise NumberError(f"{what} needs about {gib(need)} ({numel:.4g} elements × "
                          f"{element_size} B{f' × {copies:g}' if copies != 1 else ''}) but "
                          f"{gib(avail)} of memory is available; {fix}")


class Number(click.ParamType):
    """A click parameter type backed by :func:`check_number`: a bad value is a usage error
    (exit 2) naming the option, the value and the limit.

    Args:
        integral: an integer option (``"2**70"`` style text is not evaluated, just refused).
        ge, gt, le, lt, why: as :func:`check_number`.
    """

    def __init__(self, integral: bool = True, *, ge: float | None = None,
                 gt: float | None = None, le: float | None = None, lt: float | None = None,
                 why: str = "") -> None:
        self.integral, self.limits, self.why = integral, {"ge": ge, "gt": gt, "le": le,
                                                          "lt": lt}, why
        self.name = "integer" if integral else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text) if self.integral else float(text)
            except ValueError:
                try:
                    number = float(text)  # "4.0" for an integer, "nan"/"inf" named below
                except ValueError:
                    self.fail(f"{value!r} is not {'an integer' if self.integral else 'a number'}",
                              param, ctx)
        try:
            return check_number(number, "the value", integral=self.integral, why=self.why,
                                **self.limits)
        except NumberError as e:
            self.fail(str(e).removeprefix("the value "), param, ctx)


def seed_number() -> Number:
    """The click type of a seed option: an integer in 0..2**63 − 1."""
    return Number(True, ge=0, le=SEED_MAX, why="seeds are 64-bit")


__all__ = ["INT64_MAX", "SEED_MAX", "Number", "NumberError", "available_memory", "check_fits",
           "check_number", "gib", "seed_number"]
