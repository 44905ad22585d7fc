"""``check --update`` refuses to drop cells of the baseline (issue 18): another suite, a
partial or failed cell set is refused by name unless forced (:mod:`upbench.gate.check`)."""

from __future__ import annotations

from tests.cli.helpers import invoke
from tests.helpers.results import load, result, write_results


def test_update_with_another_suite_refuses_and_names_the_dropped_cells(syn_baseline, tmp_path):
    baseline, _ = syn_baseline
    before = baseline.read_bytes()
    other = write_results(tmp_path / "other", [result("nearest", s, 50 + s, suite="another")
                                               for s in (0, 1)])
    r = invoke("check", other, "--baseline", baseline, "--update")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "refusing to update" in text
    assert "suite 'another'" in text and "bilinear, carafe" in text and "--force" in text
    assert baseline.read_bytes() == before
    r = invoke("check", other, "--baseline", baseline, "--update", "--force")
    assert r.exit_code == 0, r.output
    assert load(baseline)["suite"] == "another" and "forced" in r.output


def test_update_with_a_partial_cell_set_refuses(syn_baseline, tmp_path):
    baseline, seed0 = syn_baseline
    before = baseline.read_bytes()
    part = write_results(tmp_path / "part", [r for r in seed0 if r["label"] == "bilinear"])
    r = invoke("check", part, "--baseline", baseline, "--update")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "drop 1 of the baseline's 2 cells" in text and "carafe" in text
    assert baseline.read_bytes() == before
    # a failed cell is left out too
    failed = write_results(tmp_path / "failed", [seed0[0], dict(seed0[1], status="failed")])
    r = invoke("check", failed, "--baseline", baseline, "--update")
    assert r.exit_code == 2 and "carafe" in r.output
    # the complete set updates
    r = invoke("check", write_results(tmp_path / "all", seed0), "--baseline", baseline,
               "--update")
    assert r.exit_code == 0, r.output


def test_first_update_leaving_out_failed_cells_refuses(tmp_path):
    recs = [result("bilinear", s, 50 + s) for s in (0, 1)] + [
        result("carafe", s, 50, status="failed") for s in (0, 1)]
    d = write_results(tmp_path / "r", recs)
    r = invoke("check", d, "--baseline", tmp_path / "new.json", "--update")
    assert r.exit_code == 2 and "leave out 1 cell" in r.output and "carafe" in r.output
    assert not (tmp_path / "new.json").exists()
