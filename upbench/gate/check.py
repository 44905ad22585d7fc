"""Compare a result set with a baseline: every gated quantity becomes one row with a verdict.

* FLOPs and parameters: exact.
* Accuracy: a move in the metric's bad direction (a drop of mIoU, a rise of abs_rel) larger
  than its tolerance, in the metric's unit, is a regression. The tolerance depends on where the
  result was produced: in the baseline's environment (same torch and CUDA build, CPU model,
  threads, compiler, native ops, device) with the same config hash and seed, training is
  deterministic and the tight ``rerun_abs`` (the metric's ``rerun_tolerance``) applies ("same
  env"); otherwise the seed-spread tolerance ``abs`` ("other env").
* Speed — only against a baseline measured on the same kind of machine (CPU model, ISA summary,
  threads per cell, GPU for a CUDA suite; :func:`speed_comparison`), unless ``speed="always"``;
  otherwise no speed row, and the reason is returned for the report. The latency ratio against
  the reference upsampler (measured interleaved in the same run) regresses when it grew by more
  than ``factor`` **and** a one-sided Mann–Whitney U test rejects "the current per-repeat ratios
  are no larger than ``factor`` × the baseline's" at level ``alpha`` (:func:`speed_test`). Testing
  against the scaled baseline makes noise within the factor unable to fail CI, so ``alpha`` need
  not be tiny: the default 0.01 is reachable with 5 repeats against 5 (exact p ≥ 1/252 = 0.004;
  :func:`min_p_value`), where the old 0.002 against the unscaled baseline never was.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from upbench.engine.compare import task_metrics
from upbench.engine.results import newest_per_cell
from upbench.gate.baseline import (
    Baseline,
    BaselineError,
    cell_entry,
    result_speed_kind,
    run_environment,
)
from upbench.tasks import Metric

OK, REGRESSION, NEW = "ok", "REGRESSION", "new"
SPEED_MODES = ("same-machine", "always", "never")
SAME_ENV, OTHER_ENV = "same env", "other env"


@dataclass
class CheckRow:
    """One checked quantity."""

    cell: str
    quantity: str
    baseline: Any
    value: Any
    tolerance: str
    verdict: str
    detail: str = ""
    env: str = ""  # metric rows: "same env" (rerun tolerance) or "other env" (seed spread)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _select(records: list[dict[str, Any]], baseline: Baseline) -> dict[str, dict[str, Any]]:
    if not records:
        raise BaselineError("the result set holds no upbench result files")
    suites = sorted({r.get("suite") for r in records})
    if suites != [baseline.suite]:
        raise BaselineError(f"results are from suite(s) {suites} but the baseline is for suite "
                            f"{baseline.suite!r}")
    mine = [r for r in records if r.get("seed") == baseline.seed]
    if not mine:
        raise BaselineError(f"no results for the baseline's seed {baseline.seed} (seeds present: "
                            f"{sorted({r.get('seed') for r in records})})")
    latest, _ = newest_per_cell(mine)  # a cell run twice: its newest result, as compare does
    by_label = {label: r for (_, _, label, _), r in latest.items()}
    missing = sorted(set(baseline.cells) - set(by_label))
    if missing:
        raise BaselineError(f"results lack cells the baseline has: {missing} (mismatched suites, "
                            "or an interrupted run; rerun the suite to complete it)")
    return by_label


def speed_test(current: list[float], base: list[float], factor: float = 1.0) -> float:
    """One-sided Mann–Whitney U p-value for 'the current ratios are larger than ``factor`` × the
    baseline's' (NaN with fewer than 2 samples on a side). Exact for small samples without ties
    (scipy's ``method="auto"``)."""
    from scipy.stats import mannwhitneyu

    if len(current) < 2 or len(base) < 2:
        return math.nan
    return float(mannwhitneyu(current, [factor * b for b in base],
                              alternative="greater").pvalue)


def min_p_value(n: int, m: int) -> float:
    """The smallest p-value the one-sided exact Mann–Whitney U test can give for ``n`` against
    ``m`` samples: every current sample above every baseline one, ``1 / C(n + m, n)``."""
    return 1.0 / math.comb(n + m, n) if n and m else 1.0


def speed_comparison(records: list[dict[str, Any]], baseline: Baseline) -> tuple[bool, str]:
    """Whether the results' speed can be judged against the baseline's, and why (not).

    Comparable when every result was measured on the same kind of machine as the baseline:
    :func:`upbench.measure.machine.speed_kind` of both match.
    """
    from upbench.measure.machine import kind_difference, speed_kind

    base = speed_kind(baseline.machine, (baseline.machine or {}).get("device", "cpu"))
    kinds = [result_speed_kind(r) for r in records if r.get("status") == "ok"]
    for kind in kinds:
        diff = kind_difference(base, kind)
        if diff:
            return False, "; ".join(diff)
    return True, "same kind of machine: " + ", ".join(f"{k}={v}" for k, v in (base or {}).items())


def _exact_rows(label: str, cur: dict, base: dict) -> list[CheckRow]:
    rows = []
    for group in ("flops", "params"):
        for part in ("total", "upsampler"):
            b, v = base.get(group, {}).get(part), cur[group][part]
            rows.append(CheckRow(label, f"{group}.{part}", b, v, "exact",
                                 OK if b == v else REGRESSION))
    return rows


def same_environment(rec: dict[str, Any], base: dict[str, Any], baseline: Baseline) -> bool:
    """Whether ``rec`` reran the baseline cell ``base`` in the baseline's environment: the same
    environment (:func:`run_environment`), config hash, seed and implementation of the ops."""
    if baseline.environment is None or run_environment(rec) != baseline.environment:
        return False
    if base.get("hash") is not None and base["hash"] != rec.get("hash"):
        return False
    return base.get("impl") == rec.get("impl") and rec.get("seed") == baseline.seed


def _metric_rows(label: str, cur: dict, base: dict, tolerances: dict,
                 metrics: dict[str, Metric], same_env: bool) -> list[CheckRow]:
    rows = []
    env = SAME_ENV if same_env else OTHER_ENV
    for m, b in base.get("metrics", {}).items():
        v = cur["metrics"].get(m)
        tol = tolerances.get(m, {}).get("abs")
        if tol is None:
            raise BaselineError(f"the baseline states no tolerance for metric {m!r}")
        if m not in metrics:
            raise BaselineError(f"the baseline gates metric {m!r}, which the results' task does "
                                f"not report (it has: {', '.join(metrics)})")
        metric = metrics[m]
        if same_env:
            tol = tolerances[m].get("rerun_abs", metric.rerun_tolerance)
        bound = f"{'−' if metric.higher_is_better else '+'}{tol}"
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            rows.append(CheckRow(label, m, b, v, bound, REGRESSION, "metric missing or NaN", env))
            continue
        if not isinstance(b, (int, float)) or not math.isfinite(b):
            rows.append(CheckRow(label, m, b, round(v, 4), bound, REGRESSION,
                                 "the baseline's value is missing or NaN; rebuild it", env))
            continue
        verdict = REGRESSION if metric.regressed(v, b, tol) else OK
        detail = "better" if metric.improved(v, b, tol) else ""
        rows.append(CheckRow(label, m, round(b, 4), round(v, 4), bound, verdict, detail, env))
    return rows


def _speed_row(label: str, cur: dict, base: dict, factor: float, alpha: float) -> CheckRow | None:
    b, v = base.get("speed", {}).get("ratio"), cur["speed"].get("ratio")
    if b is None:
        return None
    tol = f"×{factor}, p<{alpha}"
    if v is None:
        return CheckRow(label, "speed_ratio", b, None, tol, REGRESSION, "no speed measurement")
    now, then = cur["speed"]["ratio_samples"], base["speed"].get("ratio_samples", [])
    p = speed_test(now, then, factor)
    slower = v > b * factor
    significant = (not math.isnan(p)) and p < alpha
    blind = min_p_value(len(now), len(then)) >= alpha
    if slower and significant:
        verdict, detail = REGRESSION, f"{v / b:.2f}× slower, p={p:.2g}"
    elif blind:
        verdict, detail = OK, (f"{v / b:.2f}×; CANNOT FLAG: {len(now)} vs {len(then)} repeats "
                               f"reach p={min_p_value(len(now), len(then)):.2g} at best, not "
                               f"< {alpha}; raise profile.speed_repeats")
    elif slower:
        verdict, detail = OK, f"{v / b:.2f}× slower but not significant (p={p:.2g})"
    else:
        verdict, detail = OK, f"{v / b:.2f}× (p={p:.2g})" if not math.isnan(p) else ""
    return CheckRow(label, "speed_ratio", round(b, 3), round(v, 3), tol, verdict, detail)


def check_results(records: list[dict[str, Any]], baseline: Baseline,
                  factor: float | None = None, alpha: float | None = None,
                  speed: str = "same-machine") -> tuple[list[CheckRow], int]:
    """Check ``records`` against ``baseline``.

    ``speed``: ``"same-machine"`` judges speed only when :func:`speed_comparison` says the
    results and the baseline were measured on the same kind of machine (else no speed rows),
    ``"always"`` judges it regardless, ``"never"`` skips it.

    Returns:
        (rows, exit code): 0 when every row holds, 1 on any regression.

    Raises:
        BaselineError: unusable input (mismatched suites, missing cells or seeds).
    """
    factor = baseline.speed.get("factor", 1.25) if factor is None else factor
    alpha = baseline.speed.get("alpha", 0.002) if alpha is None else alpha
    if speed not in SPEED_MODES:
        raise ValueError(f"speed must be one of {SPEED_MODES}, got {speed!r}")
    by_label = _select(records, baseline)
    judge_speed = speed == "always" or (
        speed == "same-machine" and speed_comparison(list(by_label.values()), baseline)[0])
    task = next(iter(by_label.values())).get("task", "segmentation")
    metrics = {m.key: m for m in task_metrics(task)}
    rows: list[CheckRow] = []
    for label, base in baseline.cells.items():
        rec = by_label[label]
        cur = cell_entry(rec)
        if rec.get("status") != base.get("status", "ok"):
            rows.append(CheckRow(label, "status", base.get("status", "ok"), rec.get("status"), "",
                                 REGRESSION, str(rec.get("error") or "")[:200]))
            continue
        if rec.get("status") != "ok":
            continue
        rows += _exact_rows(label, cur, base)
        rows += _metric_rows(label, cur, base, baseline.tolerances, metrics,
                             same_environment(rec, base, baseline))
        srow = _speed_row(label, cur, base, factor, alpha) if judge_speed else None
        if srow is not None:
            rows.append(srow)
    for label in sorted(set(by_label) - set(baseline.cells)):
        rows.append(CheckRow(label, "cell", None, by_label[label].get("status"), "", NEW,
                             "not in the baseline (add it with --update)"))
    code = 1 if any(r.verdict == REGRESSION for r in rows) else 0
    return rows, code


def update_losses(old: Baseline | None, new: Baseline, records: list[dict[str, Any]]
                  ) -> list[str]:
    """What an ``--update`` from ``records`` would lose (empty: safe): another suite replacing
    the baseline's, baseline cells the new one lacks, or result cells it leaves out (failed, or
    without the baseline seed). ``check --update`` refuses these unless ``--force``."""
    lines = []
    if old is not None and old.suite != new.suite:
        lines.append(f"the results are of suite {new.suite!r} but the baseline is for suite "
                     f"{old.suite!r}: all {len(old.cells)} of its cells would be replaced")
    dropped = sorted(set(old.cells) - set(new.cells)) if old is not None else []
    if dropped:
        lines.append(f"it would drop {len(dropped)} of the baseline's {len(old.cells)} cells "
                     f"(no usable result of seed {new.seed}): {', '.join(dropped)}")
    left = sorted({r["label"] for r in records if r.get("suite") == new.suite}
                  - set(new.cells) - set(dropped))
    if left:
        lines.append(f"it would leave out {len(left)} cell(s) of the results (failed, or no "
                     f"result of seed {new.seed}): {', '.join(left)}")
    return lines


def describe_update(old: Baseline | None, new: Baseline) -> list[str]:
    """Human lines saying what an ``--update`` changed."""
    env = ("environment: " + ", ".join(f"{k}={v}" for k, v in new.environment.items())
           if new.environment else "environment: mixed or unknown (every check uses the "
           "seed-spread tolerance)")
    if old is None:
        return [f"new baseline for suite {new.suite!r} with {len(new.cells)} cells", env,
                machine_line(new)]
    lines = [] if old.environment == new.environment else [env]
    if old.machine != new.machine:
        lines.append(machine_line(new))
    for label in sorted(set(old.cells) | set(new.cells)):
        a, b = old.cells.get(label), new.cells.get(label)
        if a is None:
            lines.append(f"+ {label}: added")
        elif b is None:
            lines.append(f"- {label}: removed")
        else:
            for group in ("flops", "params"):
                for part in ("total", "upsampler"):
                    if a.get(group, {}).get(part) != b[group][part]:
                        lines.append(f"~ {label}: {group}.{part} {a.get(group, {}).get(part)} → "
                                     f"{b[group][part]}")
            for m, v in b["metrics"].items():
                old_v = a.get("metrics", {}).get(m)
                if old_v is None or v is None or abs(old_v - v) > 1e-9:
                    lines.append(f"~ {label}: {m} {old_v} → {v}")
            ra, rb = a.get("speed", {}).get("ratio"), b["speed"].get("ratio")
            if ra and rb and abs(ra - rb) / ra > 0.05:
                lines.append(f"~ {label}: speed_ratio {ra:.3f} → {rb:.3f}")
    for m, t in new.tolerances.items():
        if old.tolerances.get(m, {}).get("abs") != t.get("abs"):
            lines.append(f"~ tolerance {m}: {old.tolerances.get(m, {}).get('abs')} → {t['abs']}")
    return lines or ["no changes"]



def machine_line(new: Baseline) -> str:
    """What ``--update`` recorded as the baseline's machine."""
    if not new.machine:
        return ("machine: none or mixed (the results record no machine, or several kinds): "
                "speed will not be compared against this baseline")
    return "machine: " + ", ".join(f"{k}={v}" for k, v in new.machine.items())
