"""Synthetic result records (no training) and their files, for the gate, ``compare`` and
``check`` tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from upbench.engine.results import SCHEMA, write_atomic

ENV = {"upbench": "0", "torch": "2.14.1+cu130", "python": "3.11", "cuda": "13.0",
       "cpu": "Test CPU", "threads": 1, "compiler": "c++ 12.2.0", "native_ops": True,
       "git_commit": "abc"}

# seed-to-seed spread of about 5 mIoU points: the seed-spread tolerance is about 10 points, as
# the CI baseline's 10.3 that let a 9.5-point drop pass
SPREAD = {"bilinear": [53.0, 60.0, 50.0], "carafe": [55.0, 47.0, 58.0]}


def result(label: str, seed: int, miou: float, suite: str = "syn", env: dict | None = None,
           finished: str = "2026-11-30T10:00:00+00:00", status: str = "ok") -> dict:
    """A synthetic segmentation result record (everything the gate and compare read)."""
    return {"schema": SCHEMA, "suite": suite, "task": "segmentation", "baseline": "seg",
            "upsampler": label, "label": label, "hparams": {}, "seed": seed,
            "hash": hashlib.sha256(f"{suite}/{label}/{seed}".encode()).hexdigest()[:16],
            "config": {"device": "cpu", "seed": seed}, "status": status, "error": None,
            "env": dict(ENV if env is None else env), "finished_at": finished,
            "metrics": {"mIoU": miou, "bIoU": miou - 10, "mAcc": miou + 5, "aAcc": 90.0},
            "flops": {"total": 1000, "upsampler": 10}, "params": {"total": 500, "upsampler": 0},
            "impl": "native-cpu"}


def write_results(d: Path, records: list[dict]) -> Path:
    """Write ``records`` as result files into ``d`` (created); returns ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        write_atomic(d / f"{r['label']}__seed{r['seed']}__{r['hash']}_{i}.json", r)
    return d


def load(path: Path) -> dict:
    """The JSON document at ``path``."""
    return json.loads(Path(path).read_text())


def strict_json(text: str):
    """``text`` parsed as JSON, refusing the bare ``NaN`` / ``Infinity`` Python's json accepts."""

    def reject(token):
        raise ValueError(f"bare {token} in JSON output")

    return json.loads(text, parse_constant=reject)
