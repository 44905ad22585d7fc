"""``bound(..., omit_default=True)``: a key added later leaves stored cell hashes alone."""

from __future__ import annotations

from dataclasses import dataclass

from upbench.utils.schema import bound, build, to_dict


@dataclass
class Section:
    old: int = 1
    new: str | None = bound(None, omit_default=True)
    listed: list[int] = bound(default_factory=list, omit_default=True)


def test_defaults_are_left_out_and_set_values_kept():
    assert to_dict(build(Section, {}, "f")) == {"old": 1}
    assert to_dict(build(Section, {"new": "x", "listed": [2]}, "f")) == {
        "old": 1, "new": "x", "listed": [2]}
