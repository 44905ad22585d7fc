"""Aggregate result files: one row per (suite, task, upsampler), mean ± std over seeds, paired
deltas against each task's reference upsampler with their significance, FLOPs, params, FPS and
the latency ratio against the reference.

The columns come from the task's :class:`~upbench.tasks.base.Metric` s: every ``shown`` metric is
a column (with its direction), ``delta`` metrics also get the paired Δ: the mean over seeds of
(upsampler − reference) at the same seed (every upsampler of a suite shares the seed's
initialisation and data order, so paired deltas are far less noisy than differences of means),
with its 95 % confidence interval from the t-distribution over the seeds (``scipy.stats``) and a
mark when the interval excludes zero. With fewer than three paired seeds there is no interval (a
two-seed interval is too wide to mean anything); such a Δ is tested against the suite's noise
floor instead (:mod:`upbench.engine.noise`: from the suite's own seeds, else its stored spread):
inside the floor (|Δ| < floor / √n over n paired seeds) it is not significant. A Δ known not to be
significant is marked ``~``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from typing import Any

from upbench.engine.results import newest_per_cell
from upbench.tasks import TASKS, Metric


def task_metrics(task: str) -> tuple[Metric, ...]:
    """The metrics of ``task`` (empty for a task this version does not know)."""
    t = TASKS.get(task)
    return t.metrics if t is not None else ()


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _mean_std(vals: list[Any]) -> tuple[float | None, float | None]:
    vals = [v for v in vals if _finite(v)]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


CONFIDENCE = 0.95
MIN_SEEDS_FOR_CI = 3


def paired_delta(diffs: list[float]) -> dict[str, Any]:
    """Mean, std, n and the two-sided 95 % t confidence interval of per-seed differences;
    ``significant`` is whether the interval excludes zero (None with fewer than 3 seeds)."""
    from scipy import stats

    n = len(diffs)
    mean = statistics.fmean(diffs)
    sd = statistics.stdev(diffs) if n > 1 else None
    out: dict[str, Any] = {"mean": mean, "std": sd, "n": n, "ci": None, "significant": None}
    if n >= MIN_SEEDS_FOR_CI and sd is not None:
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
        out["ci"] = [mean - half, mean + half]
        out["significant"] = bool(out["ci"][0] > 0 or out["ci"][1] < 0)
    return out


def _paired(row: dict[str, Any], ref: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """Δkey against the reference from the per-seed differences over the seeds both have
    (:func:`paired_delta`), or the difference of the means when they share no seed."""
    if not ref or row.get(key) is None or ref.get(key) is None:
        return None
    common = sorted(set(row["_by_seed"]) & set(ref["_by_seed"]))
    diffs = [row["_by_seed"][s][key] - ref["_by_seed"][s][key] for s in common
             if _finite(row["_by_seed"][s].get(key)) and _finite(ref["_by_seed"][s].get(key))]
    if not diffs:
        return {"mean": row[key] - ref[key], "std": None, "n": 0, "ci": None,
                "significant": None}
    return paired_delta(diffs)


def _scalar_keys(records: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for r in records:
        for k, v in (r.get("metrics") or {}).items():
            if _finite(v) and k not in keys:
                keys.append(k)
    return keys


def aggregate(results: list[dict[str, Any]], reference: str | None = None
              ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (dicts) and warnings. Only ``ok`` cells enter the means; others are counted.

    Args:
        results: result records (:func:`upbench.engine.results.load_results`).
        reference: the upsampler deltas are taken against; None: each task's reference
            (``Task.reference``); ``""``: no deltas.
    """
    warnings = []
    latest, dup = newest_per_cell(results)
    if dup:
        warnings.append(f"{dup} result(s) repeat a (suite, upsampler, seed) with another config "
                        "hash; only the newest of each is used")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (suite, task, label, _), r in latest.items():
        groups[(suite, task, label)].append(r)
    floors = _noise_floors(latest.values())
    unknown = sorted({t for (_, t, _) in groups if t not in TASKS})
    if unknown:
        warnings.append(f"results of unknown task(s) {unknown}: shown without metric columns")
    rows = []
    for (suite, task, label), rs in groups.items():
        ok = [r for r in rs if r.get("status") == "ok"]
        row: dict[str, Any] = {"suite": suite, "task": task, "upsampler": label,
                               "seeds": sorted({r["seed"] for r in ok}),
                               "n_ok": len(ok), "n_failed": sum(r.get("status") == "failed"
                                                               for r in rs),
                               "n_na": sum(r.get("status") == "n/a" for r in rs)}
        errs = [r.get("error") for r in rs if r.get("status") != "ok" and r.get("error")]
        row["error"] = errs[0] if errs else None
        keys = [m.key for m in task_metrics(task)]
        keys += [k for k in _scalar_keys(ok) if k not in keys]
        row["metric_keys"] = keys
        for k in keys:
            row[k], row[f"{k}_std"] = _mean_std([(r.get("metrics") or {}).get(k) for r in ok])
        src = ok or rs
        fl: dict[str, Any] = next((r["flops"] for r in src
                                   if (r.get("flops") or {}).get("total")), {})
        pa: dict[str, Any] = next((r["params"] for r in src if r.get("params")), {})
        row["GFLOPs"] = fl["total"] / 1e9 if fl.get("total") is not None else None
        row["upsampler_GFLOPs"] = fl["upsampler"] / 1e9 if fl.get("upsampler") is not None else None
        row["params_M"] = pa["total"] / 1e6 if pa.get("total") is not None else None
        row["upsampler_params_M"] = pa["upsampler"] / 1e6 if pa.get("upsampler") is not None else None
        row["FPS"], row["FPS_std"] = _mean_std([(r.get("latency") or {}).get("fps") for r in ok])
        row["latency_ms"], _ = _mean_std([(r.get("latency") or {}).get("median_ms") for r in ok])
        speeds = [r.get("speed") or {} for r in ok]
        row["latency_ratio"], row["latency_ratio_std"] = _mean_std([sp.get("ratio")
                                                                    for sp in speeds])
        row["latency_ratio_reference"] = next((sp.get("reference") for sp in speeds
                                               if sp.get("reference")), None)
        samples = [v for sp in speeds for v in sp.get("ratio_samples") or [] if _finite(v)]
        row["latency_ratio_iqr"] = (statistics.quantiles(samples, n=4, method="inclusive")[::2]
                                    if len(samples) > 1 else None)
        row["latency_size"] = next(((r.get("latency") or {}).get("input_size") for r in ok
                                    if (r.get("latency") or {}).get("input_size")), None)
        row["flops_size"] = fl.get("input_size")
        row["flops_convention"] = (fl.get("convention") or "fvcore") if fl else None
        row["diagnostics"] = next((r["diagnostics"] for r in src if r.get("diagnostics")), None)
        row["impl"] = ",".join(sorted({str(r["impl"]) for r in ok if r.get("impl")})) or None
        row["_by_seed"] = {r["seed"]: r.get("metrics") or {} for r in ok}
        row["timed_on"] = sorted({timing_origin(r) for r in ok
                                  if (r.get("latency") or {}).get("fps") is not None})
        row["unsupported_ops"] = sorted({op for r in src
                                         for op in (r.get("flops") or {}).get("unsupported_ops")
                                         or {}})
        rows.append(row)
    _add_deltas(rows, reference, warnings, floors)
    warnings += mixed_timing_warnings(rows)
    warnings += mixed_convention_warnings(rows)
    for row in rows:
        row.pop("_by_seed", None)
    rows.sort(key=lambda r: (r["task"], r["suite"], r["upsampler"] != r.get("reference"),
                             r["upsampler"]))
    return rows, warnings


def _noise_floors(records: Any) -> dict[tuple[str, str], tuple[Any, str | None]]:
    """Per (suite, task): the noise floor of its delta metrics and, when there is none, why."""
    from upbench.engine.noise import floor_for

    by_suite: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_suite[(r.get("suite", ""), r.get("task", ""))].append(r)
    out = {}
    for (suite, task), rs in by_suite.items():
        keys = [m.key for m in task_metrics(task) if m.delta]
        out[(suite, task)] = floor_for(suite, rs, keys) if keys else (None, None)
    return out


def _add_deltas(rows: list[dict[str, Any]], reference: str | None, warnings: list[str],
                floors: dict[tuple[str, str], tuple[Any, str | None]] | None = None) -> None:
    for (suite, task) in sorted({(r["suite"], r["task"]) for r in rows}):
        group = [r for r in rows if (r["suite"], r["task"]) == (suite, task)]
        floor, why = (floors or {}).get((suite, task), (None, None))
        name = reference if reference is not None else (
            TASKS[task].reference if task in TASKS else None)
        ref = next((r for r in group if r["upsampler"] == name), None) if name else None
        if name and ref is None:
            warnings.append(f"reference {name!r} not found in the results of suite {suite!r}; "
                            "no deltas there")
        for row in group:
            row["reference"] = name if ref is not None else None
            row["noise_floor"] = (floor.as_dict() | {"note": floor.describe(
                [m.key for m in task_metrics(task) if m.delta])}) if floor else None
            row["noise_floor_missing"] = why if ref is not None else None
            for k, dk in (("GFLOPs", "dGFLOPs"), ("params_M", "dparams_M")):
                row[dk] = (row[k] - ref[k] if ref and row[k] is not None and ref[k] is not None
                           else None)
            for m in task_metrics(task):
                if m.delta:
                    d = _paired(row, ref, m.key) or {}
                    row[f"d{m.key}"], row[f"d{m.key}_std"] = d.get("mean"), d.get("std")
                    row[f"d{m.key}_n"], row[f"d{m.key}_ci"] = d.get("n"), d.get("ci")
                    row[f"d{m.key}_significant"] = d.get("significant")
                    row[f"d{m.key}_floor"] = None
                    if row is ref or row[f"d{m.key}"] is None:
                        row[f"d{m.key}_significant"] = None
                    elif d.get("ci") is None and floor and m.key in floor.spreads and d.get("n"):
                        bar = floor.spreads[m.key].floor / math.sqrt(d["n"])
                        row[f"d{m.key}_floor"] = bar
                        row[f"d{m.key}_significant"] = abs(row[f"d{m.key}"]) >= bar


# ---------------------------------------------------------------------------------------------
# Formatting


def _num(v: float | None, nd: int = 2, sign: str = "") -> str:
    """``v`` with ``nd`` decimals (``sign="+"``: always signed); ``—`` for None."""
    return "—" if v is None else f"{v:{sign}.{nd}f}"


def _pm(v: float | None, sd: float | None, nd: int = 2, sign: str = "") -> str:
    """``v ± sd`` (just ``v`` without a spread; ``—`` without a value)."""
    return _num(v, nd, sign) + (f" ± {sd:.{nd}f}" if v is not None and sd is not None else "")


SIGNIFICANT = "*"
NOT_SIGNIFICANT = "~"


def _delta(r: dict[str, Any], key: str, nd: int) -> str:
    """``+1.33 [+0.10, +2.56]*`` (95 % CI, * when it excludes 0), ``+1.33 ± 0.58`` (two seeds),
    ``+1.33`` (one); ``~`` appended when the Δ is known not to be significant (its interval
    holds 0, or it is inside the noise floor)."""
    v = r.get(f"d{key}")
    if v is None:
        return "—"
    sig = r.get(f"d{key}_significant")
    mark = SIGNIFICANT if sig else (NOT_SIGNIFICANT if sig is False else "")
    ci = r.get(f"d{key}_ci")
    if ci:
        return f"{v:+.{nd}f} [{ci[0]:+.{nd}f}, {ci[1]:+.{nd}f}]{mark}"
    return _pm(v, r.get(f"d{key}_std"), nd, "+") + (NOT_SIGNIFICANT if sig is False else "")


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def timing_origin(result: dict[str, Any]) -> str:
    """Where a result's latency was measured: ``host×N threads`` (host from the result, or
    ``unknown host`` for results written before hosts were recorded)."""
    env = result.get("env") or {}
    host = result.get("host") or env.get("host") or "unknown host"
    threads = env.get("threads")
    return f"{host}×{threads} thread{'s' if threads != 1 else ''}" if threads else str(host)


def mixed_timing_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One warning per task table whose absolute FPS come from more than one host / thread
    count (a cluster run): FPS are then not comparable across rows; the × ref latency ratio,
    timed interleaved on one machine within each cell, still is."""
    out = []
    for task, trows in by_task(rows).items():
        origins = sorted({o for r in trows for o in r.get("timed_on") or []})
        if len(origins) > 1:
            out.append(f"{task}: absolute FPS were measured on {len(origins)} different host/"
                       f"thread settings ({', '.join(origins)}); compare the × ref latency ratio "
                       "(timed interleaved within each cell), not FPS across rows")
    return out


def mixed_convention_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One warning per task table whose FLOPs were counted in more than one convention
    (``profile.flops_convention``): its GFLOPs and ΔGFLOPs columns then mix counts."""
    out = []
    for task, trows in by_task(rows).items():
        conv = sorted({r["flops_convention"] for r in trows if r.get("flops_convention")})
        if len(conv) > 1:
            out.append(f"{task}: FLOPs counted in {len(conv)} conventions ({', '.join(conv)}); "
                       "GFLOPs and ΔGFLOPs are not comparable across those rows")
    return out


def table_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Footnotes of one task's table: the significance rule, sizes, a decoder's ceiling."""
    notes = []
    keys = [k[: -len("_significant")] for k in (rows[0] if rows else {})
            if k.endswith("_significant")]
    if keys:
        few = any((r.get(f"{k}_n") or 0) < MIN_SEEDS_FOR_CI for r in rows for k in keys
                  if r["upsampler"] != r.get("reference"))
        floored = any(r.get(f"{k}_floor") is not None for r in rows for k in keys)
        notes.append("Δ: paired over seeds against the reference; [95 % CI] from the "
                     f"t-distribution, {SIGNIFICANT} = the interval excludes 0, "
                     f"{NOT_SIGNIFICANT} = not significant (no ranking implied)"
                     + (f"; with fewer than {MIN_SEEDS_FOR_CI} seeds no interval: "
                        + (f"{NOT_SIGNIFICANT} = |Δ| inside the noise floor / √(paired seeds)"
                           if floored else "not tested") if few else ""))
        for line in dict.fromkeys((r.get("noise_floor") or {}).get("note")
                                  or r.get("noise_floor_missing") for r in rows):
            if line:
                notes.append(line)
    sizes = {tuple(r["latency_size"]) for r in rows if r.get("latency_size")}
    fsizes = {tuple(r["flops_size"]) for r in rows if r.get("flops_size")}
    ref = next((r.get("latency_ratio_reference") for r in rows
                if r.get("latency_ratio_reference")), None)
    conv = sorted({r["flops_convention"] for r in rows if r.get("flops_convention")})
    if sizes or fsizes:
        notes.append("GFLOPs" + (f" ({', '.join(conv)} convention)" if conv != ["fvcore"]
                                 and conv else "") + " at " + ", ".join("×".join(map(str, s)) for s in sorted(fsizes))
                     + "; FPS (batch 1) at " + ", ".join("×".join(map(str, s)) for s in sorted(sizes))
                     + (f"; × ref latency: latency ratio against {ref}, timed interleaved in the "
                        "same run" if ref else ""))
    for r in rows:  # what cells say about themselves (a decoder's ceiling, a floor), once each
        note = (r.get("diagnostics") or {}).get("note")
        if note and note not in notes:
            notes.append(note)
    return notes


def _status(r: dict[str, Any]) -> str:
    status = f"{r['n_ok']} ok"
    if r["n_failed"]:
        status += f", {r['n_failed']} failed"
    if r["n_na"]:
        status += ", n/a"
    if r["error"] and not r["n_ok"]:
        status += f": {r['error'].splitlines()[0][:60]}"
    return status


def display_rows(rows: list[dict[str, Any]], multi_suite: bool = False
                 ) -> tuple[list[str], list[list[str]]]:
    """Header and formatted string rows of one task's table (the rows of one task)."""
    tasks = {r["task"] for r in rows}
    if len(tasks) > 1:
        raise ValueError(f"display_rows takes the rows of one task, got {sorted(tasks)}")
    metrics = [m for m in task_metrics(next(iter(tasks)))] if rows else []
    ref = next((r.get("reference") for r in rows if r.get("reference")), None)
    cols = (["suite"] if multi_suite else []) + ["upsampler", "seeds"]
    for m in metrics:
        if m.shown:
            cols.append(m.header)
            if m.delta:
                cols.append(f"Δ{m.key}")
    cols += ["GFLOPs", "ΔGFLOPs" if ref else "", "params (M)", "Δparams (M)" if ref else "",
             "FPS", "× ref latency", "impl", "status"]
    out = []
    for r in rows:
        vals = [r["upsampler"], str(len(r["seeds"]))]
        for m in metrics:
            if m.shown:
                vals.append(_pm(r.get(m.key), r.get(f"{m.key}_std"), m.digits))
                if m.delta:
                    vals.append(_delta(r, m.key, m.digits))
        vals += [_num(r["GFLOPs"], 4), _num(r.get("dGFLOPs"), 4, "+") if ref else "",
                 _num(r["params_M"], 4), _num(r.get("dparams_M"), 4, "+") if ref else "",
                 _num(r["FPS"], 1), _ratio(r.get("latency_ratio")), r["impl"] or "—",
                 _status(r)]
        out.append(([r["suite"]] if multi_suite else []) + vals)
    keep = [i for i, c in enumerate(cols) if c]
    return [cols[i] for i in keep], [[row[i] for i in keep] for row in out]


def by_task(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows grouped by task, in row order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["task"], []).append(r)
    return out


def table_title(task: str, rows: list[dict[str, Any]]) -> str:
    """``segmentation (suite quick): deltas vs bilinear``."""
    suites = sorted({r["suite"] for r in rows})
    ref = next((r.get("reference") for r in rows if r.get("reference")), None)
    return (f"{task} ({'suite' if len(suites) == 1 else 'suites'} {', '.join(suites)}): "
            f"{'deltas vs ' + ref if ref else 'no reference'}")


LATEX_SPECIALS = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#",
                  "_": "\\_", "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}",
                  "^": "\\textasciicircum{}", "±": "$\\pm$", "Δ": "$\\Delta$", "—": "--",
                  "↑": "$\\uparrow$", "↓": "$\\downarrow$", "×": "$\\times$"}


def latex_escape(s: str) -> str:
    """``s`` with every LaTeX special character escaped (and ±, Δ, arrows as math)."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in s)


def _csv(rows: list[dict[str, Any]]) -> str:
    flat = []
    for r in rows:
        r = dict(r)
        for k in [k for k in r if k.endswith("_ci")]:
            ci = r.pop(k) or [None, None]
            r[f"{k}_low"], r[f"{k}_high"] = ci
        flat.append(r)
    metric_cols: list[str] = []
    for r in flat:
        for k in r.get("metric_keys", []):
            for c in (k, f"{k}_std", f"d{k}", f"d{k}_std", f"d{k}_n", f"d{k}_ci_low",
                      f"d{k}_ci_high", f"d{k}_significant"):
                if c in r and c not in metric_cols:
                    metric_cols.append(c)
    cols = (["suite", "task", "upsampler", "reference", "n_ok", "n_failed", "n_na"] + metric_cols
            + ["GFLOPs", "dGFLOPs", "upsampler_GFLOPs", "params_M", "dparams_M",
               "upsampler_params_M", "FPS", "latency_ms", "latency_ratio",
               "latency_ratio_reference", "impl", "error"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for r in flat:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue()


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """``markdown`` | ``csv`` | ``latex`` | ``json`` text of the rows; markdown and LaTeX give one
    table per task (``table`` is rich's, in the CLI). LaTeX uses ``booktabs`` rules
    (``\\usepackage{booktabs}``)."""
    if fmt == "json":
        from upbench.utils.jsonsafe import json_safe

        return json.dumps(json_safe(rows), indent=2, default=str, allow_nan=False) + "\n"
    if fmt == "csv":
        return _csv(rows)
    multi = len({r["suite"] for r in rows}) > 1
    parts = []
    for task, trows in by_task(rows).items():
        cols, body = display_rows(trows, multi)
        if fmt == "markdown":
            lines = [f"**{table_title(task, trows)}**", "",
                     "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
            lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in body]
            lines += [""] + [f"- {n}" for n in table_notes(trows)]
        elif fmt == "latex":
            lines = [f"% {latex_escape(table_title(task, trows))} -- needs \\usepackage{{booktabs}}",
                     "\\begin{tabular}{" + "l" * (2 if multi else 1) + "r" * (len(cols) - (2 if multi else 1)) + "}",
                     "\\toprule", " & ".join(latex_escape(c) for c in cols) + " \\\\", "\\midrule"]
            lines += [" & ".join(latex_escape(v) for v in row) + " \\\\" for row in body]
            lines += ["\\bottomrule", "\\end{tabular}"]
            lines += [f"% {latex_escape(n)}" for n in table_notes(trows)]
        else:
            raise ValueError(f"unknown format {fmt!r}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
