"""``upbench check``: the CI regression gate against a stored baseline.

Exit codes: 0 all checked quantities hold, 1 a regression, 2 unusable input (missing, corrupt or
malformed files, mismatched suites, an unwritable --update target, an --update that would drop
cells without --force) with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from upbench.cli._output import console, err_console, print_json, print_table, styled
from upbench.utils.numbers import Number


def _fail_input(msg: str, as_json: bool) -> None:
    if as_json:
        print_json({"error": msg, "exit_code": 2})
    err_console.print(styled(f"upbench check: {msg}", "red"))
    sys.exit(2)


@click.command("check")
@click.argument("results", nargs=-1, required=True)
@click.option("--baseline", "baseline_path", default=None,
              help="Baseline JSON file, or a stored baseline's suite name (e.g. ci). Default: "
                   "the stored baseline of the results' suite (`upbench suite list`); required "
                   "with --update.")
@click.option("--update", is_flag=True,
              help="Rewrite the baseline from these results and say what changed.")
@click.option("--reference", default=None,
              help="Reference upsampler of a new baseline (default: the old one's, or bilinear).")
@click.option("--factor", type=Number(integral=False, ge=1.0, why="a slowdown factor: 1 flags any "
                                      "slowdown, 1.25 the default"), default=None,
              help="Speed regression factor, >= 1 (default: the baseline's, 1.25).")
@click.option("--alpha", type=Number(integral=False, gt=0.0, lt=1.0,
                                     why="a significance level, e.g. 0.01"), default=None,
              help="Significance level of the Mann–Whitney U test, in (0, 1) (default: the "
                   "baseline's).")
@click.option("--force", is_flag=True,
              help="With --update: rewrite the baseline even if it drops cells or changes suite.")
@click.option("--speed", "speed_mode", type=click.Choice(["same-machine", "always", "never"]),
              default="same-machine", show_default=True,
              help="When to judge speed: only against a baseline measured on the same kind of "
                   "machine (CPU model, ISA, threads, GPU), always, or never.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(results, baseline_path, update, reference, factor, alpha, force, speed_mode,
              as_json) -> None:
    """Compare RESULTS (result directories or files) with a stored baseline.

    FLOPs and params must match exactly and accuracy must stay within the baseline's tolerance,
    on any machine. Speed is judged only against a baseline from the same kind of machine
    (otherwise a line says it was not compared, and why): the latency ratio against the
    reference upsampler (interleaved in the same run) regresses when it exceeds the factor and a
    Mann–Whitney U test finds it significantly above factor × the baseline's. --update records
    the machine in the baseline.
    """
    from upbench.engine.outdir import OutputError, prepare_file
    from upbench.engine.results import scan_results, write_atomic
    from upbench.gate import BaselineError, build_baseline, check_results, load_baseline
    from upbench.gate.check import describe_update, update_losses

    if update and baseline_path is None:
        _fail_input("--update needs --baseline FILE: where to write the new baseline (the stored "
                    "baselines of an installed upbench are read-only)", as_json)
    if update:
        try:
            prepare_file(baseline_path, "baseline file")
        except OutputError as e:
            _fail_input(str(e), as_json)
    try:
        scan = scan_results(*results)
    except FileNotFoundError as e:
        _fail_input(str(e), as_json)
    if scan.bad:
        _fail_input("corrupt result file(s): " + "; ".join(f"{p} ({why})" for p, why in scan.bad)
                    + ". Remove or rerun them.", as_json)
    records = scan.records
    if not records:
        _fail_input(f"no upbench result files under {', '.join(results)}", as_json)
    if not update:
        baseline_path = find_baseline(baseline_path, records, as_json)
    labels = {str(r.get("label")) for r in records}
    if reference is not None and reference not in labels:
        from upbench.utils.suggest import unknown_name_message

        _fail_input("--reference: " + unknown_name_message("reference upsampler", reference,
                                                          labels), as_json)
    try:
        if update:
            old = load_baseline(baseline_path) if Path(baseline_path).exists() else None
            ref = reference or (old.reference if old else "bilinear")
            new = build_baseline(records, ref, previous=old)
            losses = update_losses(old, new, records)
            if losses and not force:
                _fail_input(f"refusing to update {baseline_path}: " + "; ".join(losses)
                            + ". Complete the results (rerun the suite), or pass --force to "
                            "accept.", as_json)
            write_atomic(baseline_path, new.as_dict())
            lines = [f"! forced: {ln}" for ln in losses] + describe_update(old, new)
            if as_json:
                print_json({"updated": str(baseline_path), "changes": lines})
            else:
                console.print(f"updated {baseline_path}:", highlight=False)
                for ln in lines:
                    console.print(f"  {ln}", highlight=False)
            return
        baseline = load_baseline(baseline_path)
        rows, code = check_results(records, baseline, factor, alpha, speed_mode)
        speed_note = speed_line(records, baseline, speed_mode)
    except BaselineError as e:
        _fail_input(str(e), as_json)
    envs = sorted({r.env for r in rows if r.env})
    if as_json:
        print_json({"exit_code": code, "environment": envs, "speed": speed_note,
                    "rows": [r.as_dict() for r in rows]})
    else:
        print_table(f"upbench check against {baseline_path}",
                    ["cell", "quantity", "baseline", "value", "tolerance", "env", "verdict",
                     "detail"],
                    [[r.cell, r.quantity, r.baseline, r.value, r.tolerance, r.env,
                      styled(r.verdict, "red") if r.verdict == "REGRESSION" else r.verdict,
                      r.detail] for r in rows])
        n_bad = sum(r.verdict == "REGRESSION" for r in rows)
        console.print(f"{len(rows)} checked, {n_bad} regression(s)")
        for line in environment_notes(records, baseline, envs):
            console.print(line, highlight=False)
        console.print(speed_note["line"], highlight=False)
    sys.exit(code)


def speed_line(records, baseline, mode: str) -> dict:
    """Whether speed was compared and why: ``{"compared", "reason", "line"}``."""
    from upbench.engine.results import newest_per_cell
    from upbench.gate.check import speed_comparison

    latest, _ = newest_per_cell([r for r in records if r.get("suite") == baseline.suite])
    same, reason = speed_comparison(list(latest.values()), baseline)
    if mode == "never":
        compared, line = False, "speed not compared: --speed never"
    elif same:
        compared, line = True, f"speed compared ({reason})"
    elif mode == "always":
        compared, line = True, (f"speed compared although the machines differ (--speed always):"
                                f" {reason}")
    else:
        compared, line = False, (f"speed not compared: the baseline was measured on another "
                                 f"kind of machine ({reason}); accuracy and FLOPs were checked. "
                                 "Compare anyway with --speed always")
    return {"compared": compared, "same_machine": same, "reason": reason, "line": line}


def find_baseline(given: str | None, records: list[dict], as_json: bool) -> str:
    """The baseline file to check against: ``given`` when it is a file, else the stored baseline
    of the suite ``given`` names or (``given`` None) of the records' suite; exit 2 naming the
    stored ones when there is none."""
    from upbench.catalog import baseline_files, looks_like_path
    from upbench.utils.suggest import closest

    if given is not None and (Path(given).is_file() or looks_like_path(given)
                              or given.endswith(".json")):
        return given  # a missing file is reported by load_baseline
    stored = baseline_files()
    known = ", ".join(stored) or "none"
    if given is not None:
        if given in stored:
            return str(stored[given])
        best = closest(given, stored)
        _fail_input(f"no baseline file {given!r} and no stored baseline of that suite name "
                    f"(stored: {known})" + (f"; did you mean {best!r}?" if best else ""),
                    as_json)
    suites = sorted({str(r.get("suite")) for r in records})
    if len(suites) != 1:
        _fail_input(f"the results hold several suites ({', '.join(suites)}); name the baseline "
                    "with --baseline", as_json)
    if suites[0] not in stored:
        _fail_input(f"no stored baseline for suite {suites[0]!r} (stored: {known}); give "
                    "--baseline FILE", as_json)
    return str(stored[suites[0]])


def environment_notes(records, baseline, envs: list[str]) -> list[str]:
    """Which accuracy tolerance applied, and how the environment differs from the baseline's."""
    from upbench.gate.baseline import env_difference, run_environment
    from upbench.gate.check import OTHER_ENV, SAME_ENV

    notes = []
    if SAME_ENV in envs:
        notes.append(f"{SAME_ENV}: rerun in the baseline's environment (torch, CPU, threads, "
                     "compiler, native ops, device, config, seed): tight rerun tolerance")
    if OTHER_ENV in envs:
        mine = next((r for r in records if r.get("seed") == baseline.seed), records[0])
        diff = env_difference(baseline.environment, run_environment(mine))
        notes.append(f"{OTHER_ENV}: seed-spread tolerance ("
                     + ("; ".join(diff) if diff else "config hash or implementation differs")
                     + ")")
    return notes
