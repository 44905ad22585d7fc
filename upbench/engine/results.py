"""Result files: one JSON per finished cell, written atomically (temp file + rename).

A result is ``<label>__seed<s>__<hash>.json``. A cell's evaluator may also produce artifacts
(e.g. detection's COCO results JSON); they are written beside it as
``<label>__seed<s>__<hash>.<name>`` and listed in the result's ``artifacts``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from upbench.utils.jsonsafe import json_safe

SCHEMA = "upbench.result/1"


def write_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` via a temp file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(json_safe(data), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


ARTIFACT_RE = re.compile(r"__[0-9a-f]{16}\.[^/]+\.json$")


def is_artifact(path: str | Path) -> bool:
    """True for an artifact written beside a result (``<stem>.<name>.json``)."""
    return bool(ARTIFACT_RE.search(Path(path).name))


def write_result(out_dir: str | Path, filename: str, record: dict[str, Any]) -> Path:
    """Write a cell's record as ``out_dir/filename``; its ``artifacts`` (``{name: JSON-able}``)
    go beside it as ``<stem>.<name>`` and the record lists their file names instead."""
    out = Path(out_dir)
    stem = filename[: -len(".json")]
    arts = record.pop("artifacts", None) or {}
    names = []
    for name, data in arts.items():
        write_atomic(out / f"{stem}.{name}", data)
        names.append(f"{stem}.{name}")
    if names:
        record["artifacts"] = names
    return write_atomic(out / filename, record)


def load_results(*dirs: str | Path) -> list[dict[str, Any]]:
    """Every result JSON (``schema == upbench.result/1``) under the directories, recursively.

    Unreadable or foreign JSON files are skipped; a missing directory raises FileNotFoundError.
    """
    out = []
    for d in dirs:
        d = Path(d)
        if d.is_file():
            files = [d]
        elif d.is_dir():
            files = sorted(d.rglob("*.json"))
        else:
            raise FileNotFoundError(f"no such results directory: {d}")
        for f in files:
            if is_artifact(f):
                continue
            try:
                data = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(data, dict) and data.get("schema") == SCHEMA:
                data["_file"] = str(f)
                out.append(data)
    return out


def finished_hashes(out_dir: str | Path) -> dict[str, str]:
    """``{hash: status}`` of the results already in ``out_dir`` (empty if it does not exist)."""
    d = Path(out_dir)
    if not d.is_dir():
        return {}
    return {r["hash"]: r.get("status", "ok") for r in load_results(d) if "hash" in r}
