"""Closest-name suggestions for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The registered name closest to ``name``, or None when nothing is similar."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return lowered[name.lower()]
    prefixed = [c for c in lowered if name and c.startswith(name.lower())]
    if len(prefixed) == 1:  # 'bilinear' → 'bilinear_upsample', not 'offset_bilinear'
        return lowered[prefixed[0]]
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[hits[0]] if hits else None


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    """``unknown upsampler 'carafee'; did you mean 'carafe'? (known: ...)``."""
    choices = sorted(choices)
    best = closest(name, choices)
    hint = f"; did you mean {best!r}?" if best else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(choices)})"
