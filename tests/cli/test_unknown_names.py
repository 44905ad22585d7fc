"""An unknown reference, metric, format or other choice is exit 2 with the valid names and the
closest, on every command (never exit 0 with a warning, never a traceback)."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.test_columns import records
from tests.reliability.helpers import invoke
from upbench.cli._params import Choice
from upbench.engine.results import SCHEMA


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("names") / "quick"
    d.mkdir()
    for r in records():
        (d / f"{r['hash']}.json").write_text(json.dumps(r | {"schema": SCHEMA}))
    return d


@pytest.mark.parametrize("args, says", [
    (["compare", "{d}", "--reference", "nosuch"], "known: bilinear, carafe(up_kernel=5)"),
    (["compare", "{d}", "--reference", "sapa"], "did you mean 'sapa-b'"),
    (["compare", "{d}", "--metric", "miou"], "did you mean 'mIoU'"),
    (["compare", "{d}", "--format", "mardown"], "did you mean 'markdown'"),
    (["compare", "{d}", "--columns", "GFLOPs,fsp"], "did you mean 'fps'"),
    (["compare", "{d}", "--plot", "{d}/../p.jpg"], "known: .png, .svg"),
    (["check", "{d}", "--baseline", "ci", "--reference", "bilinar"], "did you mean 'bilinear'"),
    (["check", "{d}", "--baseline", "cj"], "did you mean 'ci'"),
    (["run", "quik"], "did you mean 'quick'"),
    (["run", "smoke", "--executor", "rey"], "did you mean 'ray'"),
    (["flops", "--task", "segmentaton"], "did you mean 'segmentation'"),
    (["flops", "--upsampler", "carafee"], "did you mean 'carafe'"),
    (["flops", "--task", "segmentation", "--placement", "final2"], "did you mean 'final'"),
    (["ops", "check", "--op", "bilinear"], "did you mean 'bilinear_upsample'"),
    (["ops", "check", "--device", "cdua"], "did you mean 'cuda'"),
    (["ops", "bench", "--caches", "hot"], "known: cold, warm"),
])
def test_exit_2_naming_the_valid_names(results, args, says):
    r = invoke(*[a.format(d=results) for a in args])
    assert r.exit_code == 2, r.output
    assert says in " ".join(r.output.split())


def test_json_mode_error_is_json(results):
    r = invoke("compare", results, "--reference", "nosuch", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["exit_code"] == 2


CHOICES = ["table", "markdown", "csv"]


@click.command()
@click.option("--format", "fmt", type=Choice(CHOICES), default="table")
def _probe(fmt: str) -> None:
    click.echo(fmt)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=12).filter(lambda s: s not in CHOICES and "\x00" not in s))
def test_any_invalid_choice_is_exit_2_with_every_valid_name(value):
    r = CliRunner().invoke(_probe, ["--format", value])
    assert r.exit_code == 2
    assert "known: csv, markdown, table" in r.output


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(CHOICES))
def test_valid_choices_pass(value):
    assert CliRunner().invoke(_probe, ["--format", value]).output.strip() == value
