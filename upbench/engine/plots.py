"""Plots of a comparison: the primary metric against GFLOPs, and the latency ratio."""

from __future__ import annotations

from typing import Any

from upbench.engine.compare import by_task, task_metrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_panel(ax, task: str, rows: list[dict[str, Any]], metric: str | None = None) -> None:
    """The metric (default the task's primary; mean with seed std error bars) against GFLOPs,
    one labelled point per upsampler, the reference highlighted."""
    ms = task_metrics(task)
    m = next((x for x in ms if x.key == metric), ms[0] if ms else None)
    key = metric or (m.key if m else None)
    for r in rows:
        if key is None or r.get(key) is None or r.get("GFLOPs") is None:
            continue
        is_ref = r["upsampler"] == r.get("reference")
        ax.errorbar(r["GFLOPs"], r[key], yerr=r.get(f"{key}_std") or 0, fmt="s" if is_ref else "o",
                    color="black" if is_ref else None, capsize=3, markersize=6)
        ax.annotate(r["upsampler"], (r["GFLOPs"], r[key]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    sizes = sorted({"×".join(map(str, r["flops_size"])) for r in rows if r.get("flops_size")})
    ax.set_xlabel(f"GFLOPs at {', '.join(sizes) or '?'} (fvcore, 1 FLOP = 1 multiply-add)")
    unit = f" ({m.unit})" if m and m.unit else ""
    arrow = f" — {m.direction} is better" if m else ""
    ax.set_ylabel(f"{key}{unit}{arrow}")
    seeds = max((len(r["seeds"]) for r in rows), default=0)
    ax.set_title(f"{task}: {key} vs GFLOPs (mean ± std over {seeds} seed(s))")
    ax.margins(x=0.15, y=0.1)
    ax.grid(alpha=0.3)


def latency_panel(ax, task: str, rows: list[dict[str, Any]]) -> None:
    """The latency ratio against the reference (bars; whiskers: the inter-quartile range of
    the per-repeat ratios), 1 marked."""
    rs = [r for r in rows if r.get("latency_ratio") is not None]
    rs.sort(key=lambda r: r["latency_ratio"])
    names = [r["upsampler"] for r in rs]
    vals = [r["latency_ratio"] for r in rs]
    lo = [r["latency_ratio"] - (r.get("latency_ratio_iqr") or [r["latency_ratio"]] * 2)[0]
          for r in rs]
    hi = [(r.get("latency_ratio_iqr") or [r["latency_ratio"]] * 2)[1] - r["latency_ratio"]
          for r in rs]
    colors = ["black" if r["upsampler"] == r.get("reference") else "tab:blue" for r in rs]
    ax.barh(names, vals, xerr=[[max(0, v) for v in lo], [max(0, v) for v in hi]], color=colors,
            capsize=3, alpha=0.85)
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ref = next((r.get("latency_ratio_reference") for r in rs), None)
    sizes = sorted({"×".join(map(str, r["latency_size"])) for r in rs if r.get("latency_size")})
    ax.set_xlabel(f"latency / latency with {ref or 'the reference'} (batch 1, "
                  f"{', '.join(sizes) or '?'}, interleaved)")
    ax.set_title(f"{task}: latency ratio (whiskers: IQR of repeats)")
    ax.grid(alpha=0.3, axis="x")


def loss_panel(ax, task: str, records: list[dict[str, Any]], reference: str | None = None
               ) -> None:
    """The training loss curve (``train.loss_curve``) of every ``ok`` cell of one task: one
    colour per upsampler (the mean over its seeds where their curves share iterations), the
    reference black and thick; log scale."""
    curves: dict[str, list[list[list[float]]]] = {}
    for r in records:
        curve = (r.get("train") or {}).get("loss_curve")
        if r.get("status") == "ok" and r.get("task") == task and curve:
            curves.setdefault(r["label"], []).append(curve)
    for label in sorted(curves, key=lambda n: (n == reference, n)):
        runs = curves[label]
        its = [c[0] for c in runs[0]]
        same = [c for c in runs if [p[0] for p in c] == its]
        mean = [sum(c[i][1] for c in same) / len(same) for i in range(len(its))]
        is_ref = label == reference
        ax.plot(its, mean, label=f"{label} ({len(same)} seed{'s' if len(same) > 1 else ''})",
                color="black" if is_ref else None, lw=2.2 if is_ref else 1.1,
                zorder=3 if is_ref else 2)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (sum of the terms)")
    ax.set_title(f"{task}: training loss")
    if curves:
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")


def plot(rows: list[dict[str, Any]], path: str, metric: str | None = None) -> None:
    """The primary metric against GFLOPs, one panel per task, saved to ``path``."""
    plt = _pyplot()
    groups = by_task(rows)
    fig, axes = plt.subplots(1, len(groups), figsize=(7 * len(groups), 5), squeeze=False)
    for ax, (task, trows) in zip(axes[0], groups.items(), strict=True):
        accuracy_panel(ax, task, trows, metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_panel(path: str, draw, *args: Any, size: tuple[float, float] = (7, 5)) -> None:
    """One figure drawn by ``draw(ax, *args)``, saved to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
    draw(ax, *args)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
