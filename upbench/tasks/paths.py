"""Dataset sections of suite files: paths resolved against the current directory or the suite's
own, and the checks every task's ``dataset`` section shares."""

from __future__ import annotations

from pathlib import Path

from upbench.utils.schema import ConfigError
from upbench.utils.suggest import closest


def _resolve(path: str, file: str) -> Path:
    p = Path(path).expanduser()
    if not (p.is_absolute() or p.exists()):
        p = (Path(file).parent if file else Path(".")) / p
    return p.resolve() if p.exists() else p


def resolve_root(root: str, file: str, key: str) -> str:
    """A dataset directory as an absolute path: as given if absolute or existing from the cwd,
    else relative to the suite file. Raises ConfigError (with the closest existing sibling)
    when it does not exist."""
    p = _resolve(root, file)
    if not p.is_dir():
        parent = p.parent
        names = [c.name for c in parent.iterdir() if c.is_dir()] if parent.is_dir() else []
        best = closest(p.name, names)
        where = (f"dataset directory {root!r} does not exist (looked from the current directory "
                 f"and beside the suite: {str(p)!r})" if not Path(root).expanduser().is_absolute()
                 else f"dataset directory {str(p)!r} does not exist")
        raise ConfigError(file, key, f"{where}; point {key} at the dataset (edit the suite or "
                          f"`--set {key}=PATH`)", str(parent / best) if best else None)
    return str(p)


def resolve_file(path: str, root: str, file: str, key: str) -> str:
    """A file of a dataset (e.g. a split list): relative to the dataset ``root`` first, then as
    a suite path. Raises ConfigError (with the closest existing file) when it does not exist."""
    for cand in (Path(root) / path, _resolve(path, file)):
        if cand.is_file():
            return str(cand.resolve())
    cand = Path(root) / path
    names = [c.name for c in cand.parent.iterdir() if c.is_file()] if cand.parent.is_dir() else []
    best = closest(cand.name, names)
    raise ConfigError(file, key, f"file {str(cand)!r} does not exist",
                      str(cand.parent / best) if best else None)


ALL_SAMPLES = "null for all samples"  # the reason of the max_train / max_val bounds


def check_dataset_section(cfg, file: str, prefix: str) -> bool:
    """The checks shared by the tasks' ``dataset`` sections (the sizes and ``max_train`` /
    ``max_val`` are bounded fields, :func:`upbench.utils.schema.bound`): for ``kind: folder`` a
    ``root`` that exists (resolved to an absolute path). Returns True for a folder dataset."""
    if cfg.kind == "synthetic":
        return False
    if not cfg.root:
        raise ConfigError(file, f"{prefix}.root", "required for kind: folder")
    cfg.root = resolve_root(cfg.root, file, f"{prefix}.root")
    return True
