"""Aggregate result files: one row per (suite, task, upsampler), mean ± std over seeds, paired
deltas against each task's reference upsampler, FLOPs, params and FPS.

The columns come from the task's :class:`~upbench.tasks.base.Metric` s: every ``shown`` metric is
a column (with its direction), ``delta`` metrics also get the paired Δ: the mean ± std over
seeds of (upsampler − reference) at the same seed (every upsampler of a suite shares the seed's
initialisation and data order, so paired deltas are far less noisy than differences of means).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from typing import Any

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


def _paired(row: dict[str, Any], ref: dict[str, Any] | None, key: str
            ) -> tuple[float | None, float | None]:
    """Δkey against the reference: the mean (± std) of per-seed differences over the seeds both
    have, or the difference of the means when they share no seed."""
    if not ref or row.get(key) is None or ref.get(key) is None:
        return None, None
    common = sorted(set(row["_by_seed"]) & set(ref["_by_seed"]))
    diffs = [row["_by_seed"][s][key] - ref["_by_seed"][s][key] for s in common
             if _finite(row["_by_seed"][s].get(key)) and _finite(ref["_by_seed"][s].get(key))]
    if not diffs:
        return row[key] - ref[key], None
    return statistics.fmean(diffs), (statistics.stdev(diffs) if len(diffs) > 1 else None)


def _newest(results: list[dict[str, Any]]) -> tuple[dict[tuple, dict[str, Any]], int]:
    latest: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    dup = 0
    for r in results:
        key = (r.get("suite", ""), r.get("task", ""), r["label"], r["seed"])
        if key in latest:
            if latest[key].get("hash") != r.get("hash"):
                dup += 1
            if str(r.get("finished_at", "")) < str(latest[key].get("finished_at", "")):
                continue
        latest[key] = r
    return latest, dup


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
    latest, dup = _newest(results)
    if dup:
        warnings.append(f"{dup} result(s) repeat a (suite, upsampler, seed) with another config "
                        "hash; only the newest of each is used")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (suite, task, label, _), r in latest.items():
        groups[(suite, task, label)].append(r)
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
        fl = next((r.get("flops") for r in src if (r.get("flops") or {}).get("total")), {}) or {}
        pa = next((r.get("params") for r in src if r.get("params")), {}) or {}
        row["GFLOPs"] = fl["total"] / 1e9 if fl.get("total") is not None else None
        row["upsampler_GFLOPs"] = fl["upsampler"] / 1e9 if fl.get("upsampler") is not None else None
        row["params_M"] = pa["total"] / 1e6 if pa.get("total") is not None else None
        row["upsampler_params_M"] = pa["upsampler"] / 1e6 if pa.get("upsampler") is not None else None
        row["FPS"], row["FPS_std"] = _mean_std([(r.get("latency") or {}).get("fps") for r in ok])
        row["latency_ms"], _ = _mean_std([(r.get("latency") or {}).get("median_ms") for r in ok])
        row["impl"] = ",".join(sorted({r.get("impl") for r in ok if r.get("impl")})) or None
        row["_by_seed"] = {r["seed"]: r.get("metrics") or {} for r in ok}
        row["unsupported_ops"] = sorted({op for r in src
                                         for op in (r.get("flops") or {}).get("unsupported_ops")
                                         or {}})
        rows.append(row)
    _add_deltas(rows, reference, warnings)
    for row in rows:
        row.pop("_by_seed", None)
    rows.sort(key=lambda r: (r["task"], r["suite"], r["upsampler"] != r.get("reference"),
                             r["upsampler"]))
    return rows, warnings


def _add_deltas(rows: list[dict[str, Any]], reference: str | None, warnings: list[str]) -> None:
    for (suite, task) in sorted({(r["suite"], r["task"]) for r in rows}):
        group = [r for r in rows if (r["suite"], r["task"]) == (suite, task)]
        name = reference if reference is not None else (
            TASKS[task].reference if task in TASKS else None)
        ref = next((r for r in group if r["upsampler"] == name), None) if name else None
        if name and ref is None:
            warnings.append(f"reference {name!r} not found in the results of suite {suite!r}; "
                            "no deltas there")
        for row in group:
            row["reference"] = name if ref is not None else None
            for k, d in (("GFLOPs", "dGFLOPs"), ("params_M", "dparams_M")):
                row[d] = (row[k] - ref[k] if ref and row[k] is not None and ref[k] is not None
                          else None)
            for m in task_metrics(task):
                if m.delta:
                    row[f"d{m.key}"], row[f"d{m.key}_std"] = _paired(row, ref, m.key)


# ---------------------------------------------------------------------------------------------
# Formatting


def _pm(m: float | None, s: float | None, nd: int = 2) -> str:
    if m is None:
        return "—"
    return f"{m:.{nd}f} ± {s:.{nd}f}" if s is not None else f"{m:.{nd}f}"


def _signed(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:+.{nd}f}"


def _signed_pm(v: float | None, sd: float | None, nd: int = 2) -> str:
    if v is None:
        return "—"
    return f"{v:+.{nd}f} ± {sd:.{nd}f}" if sd is not None else f"{v:+.{nd}f}"


def _num(v: float | None, nd: int = 2) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


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
             "FPS", "impl", "status"]
    out = []
    for r in rows:
        vals = [r["upsampler"], str(len(r["seeds"]))]
        for m in metrics:
            if m.shown:
                vals.append(_pm(r.get(m.key), r.get(f"{m.key}_std"), m.digits))
                if m.delta:
                    vals.append(_signed_pm(r.get(f"d{m.key}"), r.get(f"d{m.key}_std"), m.digits))
        vals += [_num(r["GFLOPs"], 4), _signed(r.get("dGFLOPs"), 4) if ref else "",
                 _num(r["params_M"], 4), _signed(r.get("dparams_M"), 4) if ref else "",
                 _num(r["FPS"], 1), r["impl"] or "—", _status(r)]
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
    metric_cols: list[str] = []
    for r in rows:
        for k in r.get("metric_keys", []):
            for c in (k, f"{k}_std", f"d{k}", f"d{k}_std"):
                if c in r and c not in metric_cols:
                    metric_cols.append(c)
    cols = (["suite", "task", "upsampler", "reference", "n_ok", "n_failed", "n_na"] + metric_cols
            + ["GFLOPs", "dGFLOPs", "upsampler_GFLOPs", "params_M", "dparams_M",
               "upsampler_params_M", "FPS", "latency_ms", "impl", "error"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue()


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """``markdown`` | ``csv`` | ``latex`` | ``json`` text of the rows; markdown and LaTeX give one
    table per task (``table`` is rich's, in the CLI). LaTeX uses ``booktabs`` rules
    (``\\usepackage{booktabs}``)."""
    if fmt == "json":
        from upbench.utils.jsonsafe import json_safe

        return json.dumps(json_safe(rows), indent=2, default=str) + "\n"
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
        elif fmt == "latex":
            lines = [f"% {latex_escape(table_title(task, trows))} -- needs \\usepackage{{booktabs}}",
                     "\\begin{tabular}{" + "l" * (2 if multi else 1) + "r" * (len(cols) - (2 if multi else 1)) + "}",
                     "\\toprule", " & ".join(latex_escape(c) for c in cols) + " \\\\", "\\midrule"]
            lines += [" & ".join(latex_escape(v) for v in row) + " \\\\" for row in body]
            lines += ["\\bottomrule", "\\end{tabular}"]
        else:
            raise ValueError(f"unknown format {fmt!r}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def plot(rows: list[dict[str, Any]], path: str, metric: str | None = None) -> None:
    """The primary metric (mean ± std over seeds) against GFLOPs, one labelled point per row;
    one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_task(rows)
    fig, axes = plt.subplots(1, len(groups), figsize=(7 * len(groups), 5), squeeze=False)
    for ax, (task, trows) in zip(axes[0], groups.items(), strict=True):
        ms = task_metrics(task)
        m = next((x for x in ms if x.key == metric), ms[0] if ms else None)
        key = metric or (m.key if m else None)
        for r in trows:
            if key is None or r.get(key) is None or r.get("GFLOPs") is None:
                continue
            ax.errorbar(r["GFLOPs"], r[key], yerr=r.get(f"{key}_std") or 0, fmt="o", capsize=3)
            ax.annotate(r["upsampler"], (r["GFLOPs"], r[key]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        ax.set_xlabel("GFLOPs (fvcore, 1 FLOP = 1 multiply-add)")
        unit = f" ({m.unit})" if m and m.unit else ""
        arrow = f", {m.direction} is better" if m else ""
        ax.set_ylabel(f"{key}{unit}{arrow}")
        suites = sorted({r["suite"] for r in trows})
        ax.set_title(f"{task}: {key} vs GFLOPs — {', '.join(suites)}")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
