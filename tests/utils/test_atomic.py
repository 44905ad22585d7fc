"""replace_atomically: the target holds the old content or the new, never a part; no temp left."""

from __future__ import annotations

import os
import stat

import pytest

from upbench.utils.atomic import replace_atomically


def test_writes_the_content_with_the_mode_asked(tmp_path):
    path = tmp_path / "a.bin"
    assert replace_atomically(path, lambda f: f.write(b"new"), ".a.", ".tmp", 0o640) == path
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["a.bin"]


def test_a_failing_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def half(f):
        f.write(b"ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        replace_atomically(path, half, ".a.", ".tmp")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_the_temp_file_has_the_callers_name(tmp_path, monkeypatch):
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(os.path.basename(src)),
                                                         real(src, dst)))
    replace_atomically(tmp_path / "x.pt", lambda f: f.write(b"1"), ".x.pt.", ".tmp")
    assert seen[0].startswith(".x.pt.") and seen[0].endswith(".tmp")
