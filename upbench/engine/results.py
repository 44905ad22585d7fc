"""Result files: one JSON per finished cell, written atomically (temp file + rename).

A result is ``<label>__seed<s>__<hash>.json``. A cell's evaluator may also produce artifacts
(e.g. detection's COCO results JSON); they are written beside it as
``<label>__seed<s>__<hash>.<name>`` and listed in the result's ``artifacts``.
"""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upbench.utils.atomic import replace_atomically
from upbench.utils.jsonsafe import json_safe

SCHEMA = "upbench.result/1"


#: temp files of :func:`write_atomic` are ``.upbench-tmp.<name>.<random>.upbench-tmp``: a name
#: upbench owns, so the stale-temp cleanup (:func:`upbench.engine.outdir.remove_stale_temp_files`)
#: can never match a user's own ``*.tmp`` file
TMP_PREFIX = ".upbench-tmp."
TMP_SUFFIX = ".upbench-tmp"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` via a temp file in the same directory and a rename.

    The file gets the mode an ordinary ``open(path, "w")`` would give it: the mode of the file it
    replaces, else ``0o666`` less the user's umask (``mkstemp`` alone would make it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_umask()
    text = json.dumps(json_safe(data), indent=2) + "\n"  # ASCII: non-ASCII is \u-escaped
    return replace_atomically(path, lambda f: f.write(text.encode()),
                              f"{TMP_PREFIX}{path.name}.", TMP_SUFFIX, mode)


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


# key: the types a result must have there to be read (None allowed where the value may be absent)
_REQUIRED = {"label": str, "seed": int}
_OPTIONAL = {"suite": str, "task": str, "hash": str, "status": str, "metrics": dict, "flops": dict, "params": dict, "latency": dict,
             "speed": dict, "env": dict, "finished_at": str, "error": str}


def result_problem(data: dict[str, Any]) -> str | None:
    """Why a record with the result schema cannot be used (a key missing or of the wrong type),
    or None."""
    for key, typ in _REQUIRED.items():
        v = data.get(key)
        if not isinstance(v, typ) or isinstance(v, bool):
            got = "missing" if key not in data else f"a {type(v).__name__}"
            return f"key {key!r} must be a {typ.__name__}, is {got}"
    for key, typ in _OPTIONAL.items():
        v = data.get(key)
        if v is not None and not isinstance(v, typ):
            return f"key {key!r} must be a {typ.__name__}, is a {type(v).__name__}"
    return None


@dataclass
class ResultScan:
    """What :func:`scan_results` found: the usable records and the result files it could not
    use, as ``(path, reason)`` (truncated, not UTF-8, not JSON, or malformed)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """One line per unusable file, naming it."""
        return [f"skipped unreadable result file {p}: {why}" for p, why in self.bad]


def _result_files(dirs: tuple[str | Path, ...]) -> list[Path]:
    seen: set[Path] = set()
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
            try:
                key = f.resolve()
            except (OSError, RuntimeError):  # a symlink loop: kept, reported by scan_results
                key = f.absolute()
            if key not in seen and not is_artifact(f):  # the same directory given twice: once
                seen.add(key)
                out.append(f)
    return out


def _unreadable(f: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "a symlink loop, not a result file (remove it)"
    if f.is_dir():
        return "a directory, not a result file (move it away so the cell's result can be written)"
    return f"cannot be read: {e.strerror or e}"


def scan_results(*dirs: str | Path) -> ResultScan:
    """Every result JSON (``schema == upbench.result/1``) under the paths (directories,
    recursively, or files), each file once, and the unusable ones with the reason.

    JSON files of another schema (or none) are not results and are ignored silently; a file that
    does not parse (truncated by a kill, not UTF-8) or a result with malformed keys is reported.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    scan = ResultScan()
    for f in _result_files(dirs):
        try:
            data = json.loads(f.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as e:
            scan.bad.append((str(f), f"not UTF-8 text (byte {e.start})"))
            continue
        except json.JSONDecodeError as e:
            scan.bad.append((str(f), f"not valid JSON (truncated?): {e.msg} at line {e.lineno}"))
            continue
        except OSError as e:
            scan.bad.append((str(f), _unreadable(f, e)))
            continue
        if not (isinstance(data, dict) and data.get("schema") == SCHEMA):
            continue
        why = result_problem(data)
        if why:
            scan.bad.append((str(f), f"malformed result: {why}"))
            continue
        data["_file"] = str(f)
        scan.records.append(data)
    return scan


def load_results(*dirs: str | Path) -> list[dict[str, Any]]:
    """The usable records of :func:`scan_results` (unusable files are skipped; a missing path
    raises FileNotFoundError)."""
    return scan_results(*dirs).records


def newest_per_cell(results: list[dict[str, Any]]
                    ) -> tuple[dict[tuple[str, str, str, int], dict[str, Any]], int]:
    """The newest record (by ``finished_at``) of each (suite, task, label, seed), and how many
    records were passed over that had another config hash than the one kept."""
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


def finished_hashes(out_dir: str | Path) -> dict[str, str]:
    """``{hash: status}`` of the results already in ``out_dir`` (empty if it does not exist)."""
    d = Path(out_dir)
    if not d.is_dir():
        return {}
    return {r["hash"]: r.get("status", "ok") for r in load_results(d) if "hash" in r}


def failed_hashes(out_dir: str | Path, hashes: list[str] | set[str]) -> list[str]:
    """The ones of ``hashes`` whose stored result in ``out_dir`` failed."""
    done = finished_hashes(out_dir)
    return [h for h in hashes if done.get(h) == "failed"]
