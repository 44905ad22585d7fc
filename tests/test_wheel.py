"""The wheel is the product: build it, install it into a fresh virtual environment away from the
source tree and use it as a pip user would — list the stored suites, check an op, run a stored
suite by name, compare and gate its results.

No downloads: the wheel is built without build isolation and installed with ``--no-deps``; the
new environment reuses this interpreter's installed dependencies (torch, click, ...) through a
``.pth`` line, after its own site-packages, so ``upbench`` itself comes from the wheel only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# what a source distribution of upbench holds (the build reads nothing else)
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "upbench", "ops_cuda",
                "suites", "results/baselines")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 240
         ) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A venv holding only the freshly built wheel (dependencies reused), and a clean env."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for item in BUILD_INPUTS:  # a copy: the build writes build/ and *.egg-info beside its sources
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        if (REPO / item).is_dir():
            shutil.copytree(REPO / item, src / item, ignore=ignore)
        else:
            (src / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / item, src / item)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(dist), str(src)], tmp, env)
    wheel = next(dist.glob("upbench-*.whl"))
    prefix = tmp / "venv"
    venv.create(prefix, with_pip=False)
    py = prefix / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp, env).stdout.strip())
    # this interpreter's dependencies, after the venv's own site-packages (not processed as a
    # site dir: its editable-install hooks for a checkout's upbench stay inactive)
    (site / "_upbench_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
          "-q", str(wheel)], tmp, env)
    work = tmp / "elsewhere"
    work.mkdir()
    return {"bin": prefix / "bin", "py": py, "site": site, "work": work, "env": env}


def upbench(installed: dict, *args: str) -> subprocess.CompletedProcess:
    """The installed console script, run from an empty directory outside the source tree."""
    return _run([str(installed["bin"] / "upbench"), *args], installed["work"], installed["env"])


def test_the_wheel_is_what_runs(installed):
    code = ("import upbench, upbench.catalog as c; print(upbench.__file__); "
            "print(c.suites_dir()); print(c.baselines_dir())")
    out = _run([str(installed["py"]), "-c", code], installed["work"],
               installed["env"]).stdout.split()
    assert all(Path(p).is_relative_to(installed["site"]) for p in out), out
    assert not any(Path(p).is_relative_to(REPO) for p in out)


def test_suite_list_shows_the_stored_suites(installed):
    data = json.loads(upbench(installed, "suite", "list", "--json").stdout)
    suites = {s["name"]: s for s in data["suites"]}
    assert {"quick", "ci", "smoke"} <= set(suites)
    assert suites["smoke"]["cells"] == 2 and suites["smoke"]["task"] == "segmentation"
    assert suites["ci"]["ci_baseline"] is not None
    assert all(s["error"] is None for s in suites.values())
    paper = suites["paper/segformer-b1-ade20k"]  # the recipes of suites/paper/ ship too
    assert paper["cells"] == 5 and paper["data"].startswith("not here")


def test_ops_check_builds_and_checks_an_op(installed):
    results = json.loads(upbench(installed, "ops", "check", "--op", "bilinear_upsample", "--json").stdout)
    assert results and all(r["ok"] for r in results)


def test_run_a_stored_suite_by_name_then_compare_and_check(installed):
    work = installed["work"]
    upbench(installed, "run", "smoke")
    files = sorted((work / "results" / "smoke").glob("*.json"))
    assert len(files) == 2
    assert {json.loads(f.read_text())["status"] for f in files} == {"ok"}
    rows = json.loads(upbench(installed, "compare", "results", "--format", "json").stdout)
    assert {r["upsampler"] for r in rows} == {"bilinear", "nearest"}
    # the stored CI baseline is found by suite name (the smoke suite has none: exit 2, named)
    proc = subprocess.run([str(installed["bin"] / "upbench"), "check", "results/smoke"],
                          cwd=work, env=installed["env"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2 and "no stored baseline for suite 'smoke'" in proc.stderr
    assert "ci" in proc.stderr
