"""Every numeric option at its extremes ends in exit 2 and a message naming the option and the
limit, never a traceback or an overflow (issue 30)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from upbench.cli.main import cli
from upbench.utils import numbers

BIG = str(2**70)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def refused(args, *needles):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    flat = " ".join(r.output.split())  # rich wraps long lines
    for n in needles:
        assert n in flat, r.output
    return r


@pytest.mark.parametrize("args, needles", [
    (["--threads", "-1"], ["'--threads'", "must be >= 1, got -1"]),
    (["--threads", "0"], ["must be >= 1, got 0"]),
    (["--threads", "nan"], ["must be a finite number"]),
    (["--threads", "2.5"], ["must be an integer, got 2.5"]),
    (["--threads", BIG], ["must be <= 4096"]),
    (["--repeats", "2"], ["must be >= 3, got 2", "use at least 3 repeats"]),
    (["--repeats", "inf"], ["must be a finite number"]),
    (["--scale", "0"], ["'--scale'", "must be >= 1"]),
    (["--scale", "1e9"], ["must be an integer|must be <= 64"]),
    (["--kernel-size", "-3"], ["'--kernel-size'", "must be >= 1"]),
    (["--shape", "4,512,0,512"], ["--shape", "must be >= 1, got 0"]),
    (["--shape", "4,512,512"], ["four positive integers"]),
    (["--shape", f"1,1,1,{2**40}"], ["must be <= 2**31 - 1"]),
    (["--shape", "a,b,c,d"], ["expected N,C,H,W integers"]),
])
def test_ops_bench_options(args, needles):
    r = run("ops", "bench", "--op", "bilinear_upsample", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output
    for n in needles:
        assert any(alt in r.output for alt in n.split("|")), r.output


def test_ops_bench_refuses_a_shape_that_does_not_fit_with_the_estimate(monkeypatch):
    monkeypatch.setattr(numbers, "available_memory", lambda: 8 * 2**30)
    refused(["ops", "bench", "--op", "bilinear_upsample", "--shape", "4,512,512,512"],
            "bilinear_upsample at --shape 4,512,512,512 needs about 20 GiB",
            "but 8 GiB of memory is available; use a smaller --shape")


def test_ops_bench_names_an_option_the_op_does_not_take():
    refused(["ops", "bench", "--op", "pixel_shuffle", "--kernel-size", "5"],
            "pixel_shuffle has no kernel size: --kernel-size is not an option of this op",
            "--shape, --scale")


@pytest.mark.parametrize("seed, needle", [(BIG, "must be <= 2**63 - 1, got 2**70"),
                                          ("-1", "must be >= 0"), ("1.5", "must be an integer"),
                                          ("nan", "must be a finite number")])
def test_ops_check_seed(seed, needle):
    refused(["ops", "check", "--op", "pixel_shuffle", "--seed", seed], "'--seed'", needle)


@pytest.mark.parametrize("args, needle", [
    (["--size", "100000x100000"], "each side must be <= 65536, got 100000"),
    (["--size", "0x64"], "each side must be >= 1, got 0"),
    (["--size", "64x64x3"], "expected HxW"),
    (["--size", "nanxnan"], "expected HxW"),
    (["--channels", "0"], "must be >= 1"),
    (["--channels", BIG], "must be <= 65536"),
    (["--scale", "-2"], "must be >= 1"),
    (["--max-depth", "-1"], "must be >= 0"),
])
def test_flops_options(args, needle):
    refused(["flops", "--upsampler", "bilinear", *args], needle)


def test_flops_refuses_a_size_that_does_not_fit(monkeypatch):
    monkeypatch.setattr(numbers, "available_memory", lambda: 2**30)
    refused(["flops", "--upsampler", "bilinear", "--size", "20000x20000"],
            "a 256-channel 20000x20000 input and its ×2 output needs about",
            "use a smaller --size or --channels")


@pytest.mark.parametrize("seeds, needle", [(BIG, "must be <= 2**63 - 1"), ("-1", "must be >= 0")])
def test_a_huge_or_negative_suite_seed(tmp_path, seeds, needle):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\ninput_size: [32, 32]\n")
    refused(["suite", "validate", p, "--seeds", seeds], "seeds[0]", needle)
    p.write_text(f"name: s\ninput_size: [32, 32]\nseeds: [{seeds}]\n")
    refused(["suite", "validate", p], "seeds[0]", needle)
    p.write_text(f"name: s\ninput_size: [32, 32]\ndataset: {{seed: {seeds}}}\n")
    refused(["suite", "validate", p], "dataset.seed", needle)


def _sub(args, env=None):
    e = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **(env or {}))
    return subprocess.run([sys.executable, "-m", "upbench.cli.main", *args], check=False,
                          capture_output=True, text=True, timeout=300, env=e)


def test_an_unwritable_cache_directory_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = _sub(["ops", "bench", "--op", "pixel_shuffle"], {"UPBENCH_CACHE_DIR": str(blocker / "c")})
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"build cache {blocker / 'c'} is not writable" in r.stderr
    assert "set UPBENCH_CACHE_DIR to a writable directory" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("module", ["torch", "click", "upbench.cli.ops", "upbench.ops._build"])
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(tmp_path, module):
    """The interrupt is delivered deterministically: a sitecustomize raises KeyboardInterrupt
    when ``module`` is first imported."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import builtins
        _real, _armed = builtins.__import__, [True]
        def _imp(name, *a, **k):
            if _armed[0] and name == {module!r}:
                _armed[0] = False
                raise KeyboardInterrupt
            return _real(name, *a, **k)
        builtins.__import__ = _imp
    """))
    e = {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    r = subprocess.run([sys.executable, "-m", "upbench.cli.main", "ops", "list"], check=False,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, **e))
    assert r.returncode == 130, r.stdout + r.stderr
    assert r.stderr.strip() == "upbench: interrupted"


def test_a_library_import_keeps_its_keyboard_interrupt(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import builtins
        _real, _armed = builtins.__import__, [True]
        def _imp(name, *a, **k):
            if _armed[0] and name == "torch":
                _armed[0] = False
                raise KeyboardInterrupt
            return _real(name, *a, **k)
        builtins.__import__ = _imp
    """))
    code = "try:\n import upbench\nexcept KeyboardInterrupt:\n print('caught')\n"
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                           [str(tmp_path), *sys.path])))
    assert r.stdout.strip() == "caught", r.stderr
