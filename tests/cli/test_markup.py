"""User text holding Rich markup (``[/x]``, ``[bold]``) is printed literally, never parsed: a
closing tag that does not match used to crash, an opening one was swallowed."""

from __future__ import annotations

from tests.cli.helpers import invoke
from tests.helpers.suites import write_suite


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_markup_in_a_key(tmp_path):
    p = write_suite(tmp_path / "s.yaml")
    p.write_text(p.read_text() + "'[/x]': 1\n'[bold]y': 2\n")
    r = invoke("suite", "validate", p)
    assert r.exit_code == 2 and "[/x]: unknown key" in _flat(r.output)
    r = invoke("run", p, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "[/x]" in r.output


def test_markup_in_a_path(tmp_path):
    odd = tmp_path / "a[" / "x].yaml"  # the path reads .../a[/x].yaml
    odd.parent.mkdir()
    r = invoke("suite", "validate", odd)
    assert r.exit_code == 2 and "a[/x].yaml" in _flat(r.output)
    write_suite(odd)
    r = invoke("suite", "validate", odd)
    assert r.exit_code == 0 and "valid" in r.output
    bold = tmp_path / "[bold]"
    bold.mkdir()
    r = invoke("run", bold / "missing.yaml")
    assert r.exit_code == 2 and "[bold]" in r.output


def test_markup_in_only(tmp_path):
    p = write_suite(tmp_path / "s.yaml")
    for only in ("[/x]", "[bold]nearest"):
        r = invoke("run", p, "--only", only, "--out", tmp_path / "out")
        assert r.exit_code == 2 and f"'{only}' is not in this suite" in _flat(r.output)


def test_markup_in_compare_and_check_paths(tmp_path):
    d = tmp_path / "r[" / "x]"
    r = invoke("compare", d)
    assert r.exit_code == 2 and "r[/x]" in _flat(r.output)
    r = invoke("check", d, "--baseline", tmp_path / "[red]b.json")
    assert r.exit_code == 2 and ("r[/x]" in _flat(r.output) or "[red]b.json" in r.output)
