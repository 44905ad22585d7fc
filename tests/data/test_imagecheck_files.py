"""The shared image reader refuses special files and decompression bombs by name, and reads grey
maps at their full bit depth (issue 30)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image

from upbench.data.imagecheck import (
    DataError,
    check_regular_file,
    image_size,
    open_image,
    read_unit,
)


def _png(path, arr):
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def specials(tmp_path):
    """A FIFO, a directory, a dangling and a looping symlink, each named like an image."""
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "loop_a.png").symlink_to(tmp_path / "loop_b.png")
    (tmp_path / "loop_b.png").symlink_to(tmp_path / "loop_a.png")
    return {"fifo.png": "FIFO", "dir.png": "directory", "dangling.png": "dangling symlink",
            "loop_a.png": "symlink loop"}


@pytest.mark.parametrize("reader", [image_size, open_image, read_unit, check_regular_file])
def test_special_files_are_named_and_never_block(tmp_path, specials, reader):
    for name, kind in specials.items():
        result = {}

        def call(name=name, result=result):
            try:
                reader(tmp_path / name)
            except DataError as e:
                result["error"] = str(e)

        t = threading.Thread(target=call, daemon=True)
        t.start()
        t.join(30)
        assert not t.is_alive(), f"{reader.__name__} blocked on {name}"
        assert name in result["error"] and kind in result["error"], result


def test_a_device_is_not_a_regular_file():
    with pytest.raises(DataError, match="a device"):
        check_regular_file("/dev/null")


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    p = _png(tmp_path / "bomb.png", np.zeros((300, 400), np.uint8))  # compresses to ~1 KB
    monkeypatch.setenv("UPBENCH_MAX_IMAGE_PIXELS", str(100_000))
    for reader in (image_size, open_image, read_unit):
        with pytest.raises(DataError, match=r"bomb\.png: the image is 400×300 = 120,000 pixels, "
                                            r"more than the limit 100,000"):
            reader(p)
    monkeypatch.setenv("UPBENCH_MAX_IMAGE_PIXELS", str(120_000))
    assert image_size(p) == (300, 400)


def test_pils_own_bomb_error_is_named(tmp_path, monkeypatch):
    p = _png(tmp_path / "bomb.png", np.zeros((300, 400), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL raises above twice this
    with pytest.raises(DataError, match=r"bomb\.png: .*decompression bomb"):
        open_image(p)


def test_16_bit_grey_is_read_at_full_depth(tmp_path):
    a8 = np.array([[0, 64, 128], [192, 255, 7]], np.uint8)
    a16 = (a8.astype(np.uint32) * 257).astype(np.uint16)  # the same values, 16-bit
    u8, full8 = read_unit(_png(tmp_path / "a8.png", a8))
    u16, full16 = read_unit(_png(tmp_path / "a16.png", a16))
    assert (full8, full16) == (255, 65535)
    np.testing.assert_allclose(u16, u8, atol=1e-6)
    fine = np.array([[1000, 30000, 65535]], np.uint16)  # values 8 bits cannot hold
    u, _ = read_unit(_png(tmp_path / "fine.png", fine))
    np.testing.assert_allclose(u, fine / 65535.0, rtol=1e-6)


def test_16_bit_converted_to_8_bit_is_refused_not_clipped(tmp_path):
    p = _png(tmp_path / "a16.png", np.full((4, 4), 40000, np.uint16))
    with pytest.raises(DataError, match="16-bit image where an 8-bit one"):
        open_image(p, "L")


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a" + b"\0" * 10,
                                     b"not an image at all"])
def test_empty_and_garbage_files_are_named(tmp_path, content):
    p = tmp_path / "x.png"
    p.write_bytes(content)
    with pytest.raises(DataError, match=r"x\.png: cannot read the image"):
        open_image(p)
