"""The stored suites and baselines, found by name (:mod:`upbench.catalog`), and the commands that
take a name: ``suite list``, ``run NAME``, ``suite validate NAME``, ``check`` without --baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import invoke
from tests.helpers.suites import write_suite
from upbench import catalog
from upbench.engine import load_suite
from upbench.utils.schema import ConfigError


def test_every_stored_suite_loads_and_names_its_file():
    files = catalog.suite_files()
    assert {"quick", "ci", "smoke"} <= set(files)
    for name, path in files.items():
        if "/" in name:  # a paper recipe: its data is not here (tests/suites/test_paper_suites.py)
            assert load_suite(path, ["dataset.kind=synthetic"]).name == name.replace("/", "-")
        else:
            assert load_suite(path).name == name  # `upbench run NAME` writes results/NAME
    assert {"paper/segformer-b1-ade20k", "paper/bts-r50-nyu"} <= set(files)


def test_a_stored_name_in_a_subfolder_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    want = catalog.suite_files()["paper/bts-r50-nyu"]
    assert catalog.resolve_suite("paper/bts-r50-nyu") == want
    assert catalog.resolve_suite("paper/bts-r50-nyu.yaml") == want
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "bts-r50-nyu.yaml").write_text("name: mine\n")  # a file here wins
    assert catalog.resolve_suite("paper/bts-r50-nyu.yaml") == Path("paper/bts-r50-nyu.yaml")


def test_resolve_prefers_a_file_then_a_stored_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert catalog.resolve_suite("quick") == catalog.suite_files()["quick"]
    (tmp_path / "quick").write_text("name: mine\n")  # a file of that name here wins
    assert catalog.resolve_suite("quick").resolve() == (tmp_path / "quick").resolve()
    assert str(catalog.resolve_suite("other/x.yaml")) == "other/x.yaml"  # left to load_suite
    with pytest.raises(ConfigError) as e:
        catalog.resolve_suite("quik")
    assert e.value.suggestion == "quick" and "smoke" in str(e.value)


def test_stored_baseline_by_suite_name():
    assert catalog.stored_baseline("ci") is not None
    assert catalog.stored_baseline("nosuch") is None


def test_suite_list_table(monkeypatch):
    from upbench.cli._output import console

    for width in (200, 80):
        monkeypatch.setattr(console, "width", width)
        text = invoke("suite", "list").output
        assert "smoke" in text and "expected" in text and "…" not in text
        assert max(len(line) for line in text.splitlines()) <= width


def test_suite_list_json():
    data = json.loads(invoke("suite", "list", "--json").output)
    smoke = next(s for s in data["suites"] if s["name"] == "smoke")
    assert smoke["cells"] == 2 and smoke["expected_minutes"] > 0 and smoke["ci_baseline"] is None


def test_run_and_validate_an_unknown_name_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (("run", "quik"), ("suite", "validate", "quik")):
        r = invoke(*args)
        assert r.exit_code == 2 and "did you mean 'quick'" in " ".join(r.output.split())


def test_check_finds_or_names_the_stored_baseline(tmp_path):
    suite = write_suite(tmp_path / "s.yaml")
    assert invoke("run", suite, "--out", tmp_path / "r").exit_code == 0
    r = invoke("check", tmp_path / "r")  # suite 'tiny' has no stored baseline
    assert r.exit_code == 2 and "no stored baseline for suite 'tiny'" in r.output
    r = invoke("check", tmp_path / "r", "--baseline", "cj")
    assert r.exit_code == 2 and "did you mean 'ci'" in r.output
    r = invoke("check", tmp_path / "r", "--baseline", "ci")  # found; a different suite
    assert r.exit_code == 2 and "ci" in r.output
    r = invoke("check", tmp_path / "r", "--update")
    assert r.exit_code == 2 and "--update needs --baseline" in r.output
