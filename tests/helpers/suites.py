"""The one tiny segmentation suite of the tests (fast: 32×32, a few samples, one iteration),
written with overrides merged in."""

from __future__ import annotations

from pathlib import Path

import yaml

TINY = {
    "name": "tiny",
    "input_size": [32, 32],
    "dataset": {"num_classes": 4, "train_size": 4, "val_size": 2},
    "model": {"widths": [4, 4, 4, 4], "decoder_channels": 4},
    "train": {"iterations": 1, "batch_size": 2, "eval_batch_size": 2},
    "upsamplers": ["bilinear"],
    "profile": {"flops": False, "latency": False, "memory": False},
    "metrics": {"trimap_widths": [1]},
    "threads": 1,
}


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in (nested mappings merged, other values replaced)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_suite(path: Path, **over: object) -> Path:
    """A tiny segmentation suite at ``path`` with ``over`` merged in."""
    path.write_text(yaml.safe_dump(merge(TINY, over), sort_keys=False))
    return path


def folder_suite(tmp_path: Path, root: Path, **dataset: object) -> Path:
    """A tiny suite reading the generic folder dataset at ``root``."""
    ds = {"kind": "folder", "format": "generic", "root": str(root), "num_classes": 4} | dataset
    return write_suite(tmp_path / "folder.yaml", dataset=ds)


#: the stored suites of the repository
STORED = Path(__file__).resolve().parents[2] / "suites"


def run_stored(name: str, labels: list[str], out: Path, sets: list[str] | None = None):
    """Run the cells ``labels`` of the stored suite ``suites/<name>.yaml`` (with ``--set``
    overrides ``sets``) into ``out``; returns the suite, the run's summary and the written
    results by label."""
    from upbench.engine import expand, load_suite
    from upbench.engine.results import load_results
    from upbench.engine.runner import run_suite

    suite = load_suite(STORED / f"{name}.yaml", sets or [])
    summary = run_suite(suite, expand(suite, labels), out)
    return suite, summary, {r["label"]: r for r in load_results(out)}
