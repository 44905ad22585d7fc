"""``upbench check``: the CI regression gate against a stored baseline.

Exit codes: 0 all checked quantities hold, 1 a regression, 2 unusable input (missing or corrupt
files, mismatched suites) with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from upbench.cli._output import console, err_console, print_json, print_table, styled


def _fail_input(msg: str, as_json: bool) -> None:
    if as_json:
        print_json({"error": msg, "exit_code": 2})
    err_console.print(styled(f"upbench check: {msg}", "red"))
    sys.exit(2)


@click.command("check")
@click.argument("results", nargs=-1, required=True)
@click.option("--baseline", "baseline_path", required=True,
              help="Baseline JSON, e.g. results/baselines/ci.json.")
@click.option("--update", is_flag=True,
              help="Rewrite the baseline from these results and say what changed.")
@click.option("--reference", default=None,
              help="Reference upsampler of a new baseline (default: the old one's, or bilinear).")
@click.option("--factor", type=float, default=None,
              help="Speed regression factor (default: the baseline's, 1.25).")
@click.option("--alpha", type=float, default=None,
              help="Significance level of the Mann–Whitney U test (default: the baseline's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(results, baseline_path, update, reference, factor, alpha, as_json) -> None:
    """Compare RESULTS (result directories or files) with a stored baseline.

    FLOPs and params must match exactly, accuracy must stay within the baseline's tolerance, and
    the latency ratio against the reference upsampler (interleaved in the same run) regresses only
    when it exceeds the factor and a Mann–Whitney U test finds the change significant.
    """
    from upbench.engine.results import load_results, write_atomic
    from upbench.gate import BaselineError, build_baseline, check_results, load_baseline
    from upbench.gate.check import describe_update

    try:
        records = load_results(*results)
    except FileNotFoundError as e:
        _fail_input(str(e), as_json)
    bad = _corrupt_files(results)
    if bad:
        _fail_input(f"corrupt result file(s): {', '.join(bad)}", as_json)
    if not records:
        _fail_input(f"no upbench result files under {', '.join(results)}", as_json)
    try:
        if update:
            old = load_baseline(baseline_path) if Path(baseline_path).exists() else None
            ref = reference or (old.reference if old else "bilinear")
            new = build_baseline(records, ref, previous=old)
            write_atomic(baseline_path, new.as_dict())
            lines = describe_update(old, new)
            if as_json:
                print_json({"updated": str(baseline_path), "changes": lines})
            else:
                console.print(f"updated {baseline_path}:")
                for ln in lines:
                    console.print(f"  {ln}")
            return
        baseline = load_baseline(baseline_path)
        rows, code = check_results(records, baseline, factor, alpha)
    except BaselineError as e:
        _fail_input(str(e), as_json)
    if as_json:
        print_json({"exit_code": code, "rows": [r.as_dict() for r in rows]})
    else:
        print_table(f"upbench check against {baseline_path}",
                    ["cell", "quantity", "baseline", "value", "tolerance", "verdict", "detail"],
                    [[r.cell, r.quantity, r.baseline, r.value, r.tolerance,
                      styled(r.verdict, "red") if r.verdict == "REGRESSION" else r.verdict,
                      r.detail] for r in rows])
        n_bad = sum(r.verdict == "REGRESSION" for r in rows)
        console.print(f"{len(rows)} checked, {n_bad} regression(s)")
    sys.exit(code)


def _corrupt_files(paths) -> list[str]:
    """JSON files under ``paths`` that do not parse (a truncated result is unusable input)."""
    bad = []
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(p.rglob("*.json")) if p.is_dir() else []
        for f in files:
            try:
                json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                bad.append(str(f))
    return bad
