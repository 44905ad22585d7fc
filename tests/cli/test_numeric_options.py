"""Numeric and arch options checked before any work: ``upbench check``'s factor and significance
level go through the one number layer (a non-finite, negative or out-of-range value is a usage
error, exit 2, before any result is read — ``--factor nan`` once let a 10× slowdown pass), and
``ops cuda-check --archs`` is parsed before a compiler runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from upbench.cli.main import cli


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--factor", "nan", "finite"), ("--factor", "inf", "finite"), ("--factor", "-1", ">= 1"),
    ("--factor", "0.5", ">= 1"), ("--alpha", "2", "< 1"), ("--alpha", "0", "> 0"),
    ("--alpha", "nan", "finite"), ("--factor", "fast", "number"),
])
def test_unusable_numbers_exit_2_naming_the_option(tmp_path, option, value, words):
    r = CliRunner().invoke(cli, ["check", str(tmp_path), option, value])
    assert r.exit_code == 2, r.output
    assert option in r.output and words in r.output


def test_usable_numbers_pass_the_option_check(tmp_path):
    r = CliRunner().invoke(cli, ["check", str(tmp_path), "--factor", "1.5", "--alpha", "0.01"])
    assert r.exit_code == 2 and "no upbench result files" in r.output  # it got to the results


@pytest.mark.parametrize("archs", ["bogus", "8.0;sm_90", "", "8"])
def test_cuda_check_refuses_an_unknown_arch_before_compiling(archs):
    r = CliRunner().invoke(cli, ["ops", "cuda-check", "--archs", archs])
    assert r.exit_code == 2 and "not a CUDA arch" in r.output


def test_cuda_check_arch_syntax_as_torch_takes_it():
    from upbench.cli.ops import parse_archs

    assert parse_archs(None, None, " 8.0 9.0a;8.6+PTX ") == "8.0;9.0a;8.6+PTX"
