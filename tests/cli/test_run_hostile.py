"""``upbench run`` with a damaged output directory or an unreachable cluster (issue 30)."""

from __future__ import annotations

import pytest

from tests.cli.helpers import invoke
from tests.helpers.suites import write_suite


def test_a_truncated_result_is_named_on_rerun_and_its_cell_runs_again(tmp_path):
    suite = write_suite(tmp_path / "s.yaml")
    out = tmp_path / "out"
    assert invoke("run", suite, "--out", out).exit_code == 0
    (res,) = out.glob("*.json")
    res.write_text(res.read_text()[:40])  # killed mid-write by an older version, or a full disk
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert f"unusable result file {res}" in flat and "its cell runs again" in flat
    assert "1 cell(s) run" in flat and res.read_text().rstrip().endswith("}")


def test_a_directory_where_the_result_goes_fails_the_cell_with_exit_1(tmp_path):
    from upbench.engine import expand, load_suite

    suite = write_suite(tmp_path / "s.yaml", upsamplers=["bilinear", "nearest"])
    out = tmp_path / "out"
    cell = next(c for c in expand(load_suite(suite)) if c.label == "bilinear")
    (out / cell.filename).mkdir(parents=True)
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 1, r.output
    flat = " ".join(r.output.split())
    assert "a directory, not a result file" in flat
    assert "result not saved (a directory is in the way)" in flat
    assert len(list(out.glob("nearest__*.json"))) == 1  # the other cell went on and was kept


@pytest.mark.filterwarnings("ignore")
def test_an_unreachable_ray_address_is_exit_2(tmp_path):
    pytest.importorskip("ray")
    suite = write_suite(tmp_path / "s.yaml")
    r = invoke("run", suite, "--out", tmp_path / "out", "--executor", "ray", "--address",
               "127.0.0.1:1")
    assert r.exit_code == 2, r.output
    flat = " ".join(r.output.split())
    assert "executor unavailable" in flat and "'127.0.0.1:1'" in flat and "refused" in flat
