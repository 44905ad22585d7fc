"""Aggregate result files: one row per (suite, task, upsampler), mean ± std over seeds, deltas
against a reference upsampler (ΔmIoU, ΔGFLOPs, Δparams as the papers report them), FPS.

ΔmIoU / ΔbIoU are paired: the mean ± std over seeds of (upsampler − reference) at the same seed
(every upsampler of a suite shares the seed's initialisation and data order).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from typing import Any

METRIC_KEYS = ("mIoU", "bIoU", "mAcc", "aAcc")


def _mean_std(vals: list[float]) -> tuple[float | None, float | None]:
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def _paired(row: dict[str, Any], ref: dict[str, Any] | None, key: str
            ) -> tuple[float | None, float | None]:
    """Δkey against the reference: the mean (± std) of per-seed differences over the seeds both
    have (same init and data order, so paired deltas are far less noisy than the means), or the
    difference of the means when they share no seed."""
    if not ref or row[key] is None or ref[key] is None:
        return None, None
    common = sorted(set(row["_by_seed"]) & set(ref["_by_seed"]))
    diffs = [row["_by_seed"][s][key] - ref["_by_seed"][s][key] for s in common
             if row["_by_seed"][s].get(key) is not None and ref["_by_seed"][s].get(key) is not None]
    if not diffs:
        return row[key] - ref[key], None
    return statistics.fmean(diffs), (statistics.stdev(diffs) if len(diffs) > 1 else None)


def aggregate(results: list[dict[str, Any]], reference: str | None = "bilinear"
              ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (dicts) and warnings. Only ``ok`` cells enter the means; others are counted."""
    warnings = []
    latest: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    dup = 0
    for r in results:
        key = (r.get("suite", ""), r.get("task", ""), r["label"], r["seed"])
        if key in latest:
            dup += 1
            if str(r.get("finished_at", "")) < str(latest[key].get("finished_at", "")):
                continue
        latest[key] = r
    if dup:
        warnings.append(f"{dup} result(s) repeat a (suite, upsampler, seed) with another config "
                        "hash; only the newest of each is used")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for (suite, task, label, _), r in latest.items():
        groups[(suite, task, label)].append(r)
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
        for k in METRIC_KEYS:
            row[k], row[f"{k}_std"] = _mean_std([(r.get("metrics") or {}).get(k) for r in ok])
        trimaps = sorted({k for r in ok for k in (r.get("metrics") or {})
                          if k.startswith("trimap_mIoU@")}, key=lambda s: int(s.split("@")[1]))
        for k in trimaps:
            row[k], row[f"{k}_std"] = _mean_std([r["metrics"].get(k) for r in ok])
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
    if reference:
        refs = {(r["suite"], r["task"]): r for r in rows if r["upsampler"] == reference}
        if not refs:
            warnings.append(f"reference {reference!r} not found in the results; no deltas")
        for row in rows:
            ref = refs.get((row["suite"], row["task"]))
            for k, d in (("GFLOPs", "dGFLOPs"), ("params_M", "dparams_M")):
                row[d] = (row[k] - ref[k] if ref and row[k] is not None and ref[k] is not None
                          else None)
            for k, d in (("mIoU", "dmIoU"), ("bIoU", "dbIoU")):
                row[d], row[f"{d}_std"] = _paired(row, ref, k)
    for row in rows:
        row.pop("_by_seed", None)
    rows.sort(key=lambda r: (r["suite"], r["task"], r["upsampler"] != reference,
                             r["upsampler"]))
    return rows, warnings


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


COLUMNS = ["upsampler", "task", "seeds", "mIoU", "ΔmIoU", "bIoU", "ΔbIoU", "GFLOPs", "ΔGFLOPs",
           "params (M)", "Δparams (M)", "FPS", "impl", "status"]


def display_rows(rows: list[dict[str, Any]], multi_suite: bool = False) -> tuple[list[str],
                                                                               list[list[str]]]:
    """Header and formatted string rows shared by the table, markdown, csv and latex formats."""
    cols = (["suite"] if multi_suite else []) + COLUMNS
    out = []
    for r in rows:
        status = f"{r['n_ok']} ok"
        if r["n_failed"]:
            status += f", {r['n_failed']} failed"
        if r["n_na"]:
            status += ", n/a"
        if r["error"] and not r["n_ok"]:
            status += f": {r['error'].splitlines()[0][:60]}"
        vals = [r["upsampler"], r["task"], str(len(r["seeds"])), _pm(r["mIoU"], r["mIoU_std"]),
                _signed_pm(r.get("dmIoU"), r.get("dmIoU_std")), _pm(r["bIoU"], r["bIoU_std"]),
                _signed_pm(r.get("dbIoU"), r.get("dbIoU_std")),
                _num(r["GFLOPs"], 4), _signed(r.get("dGFLOPs"), 4), _num(r["params_M"], 4),
                _signed(r.get("dparams_M"), 4), _num(r["FPS"], 1), r["impl"] or "—", status]
        out.append(([r["suite"]] if multi_suite else []) + vals)
    return cols, out


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """``markdown`` | ``csv`` | ``latex`` | ``json`` text of the rows (``table`` is rich's)."""
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str)
    multi = len({r["suite"] for r in rows}) > 1
    cols, body = display_rows(rows, multi)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        raw_cols = ["suite", "task", "upsampler", "n_ok", "n_failed", "n_na", "mIoU", "mIoU_std",
                    "dmIoU", "dmIoU_std", "bIoU", "bIoU_std", "dbIoU", "dbIoU_std", "mAcc", "aAcc", "GFLOPs", "dGFLOPs",
                    "upsampler_GFLOPs", "params_M", "dparams_M", "upsampler_params_M", "FPS",
                    "latency_ms", "impl", "error"]
        w.writerow(raw_cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in raw_cols])
        return buf.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        def esc(s: str) -> str:
            for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"),
                         ("#", "\\#"), ("±", "$\\pm$"), ("Δ", "$\\Delta$"), ("—", "--")):
                s = s.replace(a, b)
            return s
        lines = ["\\begin{tabular}{" + "l" * 2 + "r" * (len(cols) - 2) + "}", "\\toprule",
                 " & ".join(esc(c) for c in cols) + " \\\\", "\\midrule"]
        lines += [" & ".join(esc(v) for v in row) + " \\\\" for row in body]
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def plot(rows: list[dict[str, Any]], path: str, metric: str = "mIoU") -> None:
    """Accuracy (mean ± std over seeds) against GFLOPs, one labelled point per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for r in rows:
        if r.get(metric) is None or r.get("GFLOPs") is None:
            continue
        ax.errorbar(r["GFLOPs"], r[metric], yerr=r.get(f"{metric}_std") or 0, fmt="o",
                    capsize=3)
        ax.annotate(r["upsampler"], (r["GFLOPs"], r[metric]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.set_xlabel("GFLOPs (fvcore, 1 FLOP = 1 multiply-add)")
    ax.set_ylabel(f"{metric} (%)")
    suites = sorted({r["suite"] for r in rows})
    ax.set_title(f"{metric} vs GFLOPs — {', '.join(suites)}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
