"""What ships with upbench: the stored suites and CI baselines, found by name.

In a source checkout (an editable install, or ``PYTHONPATH`` on the repository) they are the
repository's ``suites/*.yaml`` and ``results/baselines/*.json``; a built wheel carries copies of
both as ``upbench/_suites`` and ``upbench/_baselines`` (``setup.py`` maps the folders into the
package at build time), read through :mod:`importlib.resources`. So ``upbench run quick`` and
``upbench check DIR`` work the same from a checkout and from ``pip install upbench`` in any
directory.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_PKG_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PKG_DIR.parent

SUITE_SUFFIXES = (".yaml", ".yml")


def _checkout_dir(*parts: str) -> Path | None:
    """``<repository>/<parts>`` when upbench runs from a source checkout (the folder exists next
    to a ``pyproject.toml`` that names upbench), else None."""
    project = _CHECKOUT / "pyproject.toml"
    folder = _CHECKOUT.joinpath(*parts)
    if folder.is_dir() and project.is_file() and 'name = "upbench"' in project.read_text():
        return folder
    return None


def _packaged_dir(name: str) -> Path | None:
    """The wheel's ``upbench/<name>`` folder as a real directory, or None."""
    folder = importlib.resources.files("upbench").joinpath(name)
    if not folder.is_dir():
        return None
    # an installed wheel is unpacked on disk; a zipped upbench is not supported
    path = Path(str(folder))
    return path if path.is_dir() else None


def suites_dir() -> Path | None:
    """The directory of the stored suites: the checkout's ``suites/``, else the wheel's copy."""
    return _checkout_dir("suites") or _packaged_dir("_suites")


def baselines_dir() -> Path | None:
    """The directory of the stored baselines: the checkout's ``results/baselines/``, else the
    wheel's copy."""
    return _checkout_dir("results", "baselines") or _packaged_dir("_baselines")


def suite_name(path: Path, folder: Path) -> str:
    """A stored suite's name: its path under the suites folder without the suffix, with ``/``
    (``quick``, ``paper/segformer-b1-ade20k``)."""
    return path.relative_to(folder).with_suffix("").as_posix()


def suite_files() -> dict[str, Path]:
    """Every stored suite file by name, sorted by name: the files of the suites folder
    (``quick``) and of its subfolders (``paper/segformer-b1-ade20k``: the paper recipes)."""
    folder = suites_dir()
    if folder is None:
        return {}
    files = [p for p in folder.rglob("*") if p.suffix in SUITE_SUFFIXES and p.is_file()
             and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)]
    named = {suite_name(p, folder): p for p in files}
    return {k: named[k] for k in sorted(named)}


def baseline_files() -> dict[str, Path]:
    """Every stored baseline by suite name (``ci`` → ``ci.json``), sorted by name."""
    folder = baselines_dir()
    if folder is None:
        return {}
    files = [p for p in folder.glob("*.json") if p.is_file()]
    return {p.stem: p for p in sorted(files, key=lambda p: p.stem)}


def looks_like_path(arg: str) -> bool:
    """Whether a SUITE argument names a file (a separator or a YAML suffix) rather than a
    stored suite."""
    return "/" in arg or "\\" in arg or arg.endswith(SUITE_SUFFIXES)


def resolve_suite(arg: str) -> Path:
    """The suite file a SUITE argument means: an existing file as given, else the stored suite
    of that name (``quick`` → ``suites/quick.yaml``, ``paper/bts-r50-nyu`` →
    ``suites/paper/bts-r50-nyu.yaml``).

    Raises:
        ConfigError: a bare name that is neither a file here nor a stored suite (the message
            lists the stored suites and names the closest). A missing path is left to
            :func:`upbench.engine.load_suite`, which reports it with the closest file.
    """
    from upbench.utils.schema import ConfigError
    from upbench.utils.suggest import closest

    path = Path(arg)
    if path.is_file():
        return path
    stored = suite_files()
    name = arg[: -len(suf)] if (suf := next((x for x in SUITE_SUFFIXES if arg.endswith(x)),
                                            None)) else arg
    if name in stored and not path.is_absolute():  # paper/segformer-b1-ade20k[.yaml]
        return stored[name]
    if looks_like_path(arg):
        return path
    raise ConfigError(arg, "", "no such suite file here, and no stored suite of that name "
                      f"(stored: {', '.join(stored) or 'none found'}; `upbench suite list` "
                      "shows them)", closest(arg, stored))


def stored_baseline(suite: str) -> Path | None:
    """The stored baseline of suite ``suite``, or None."""
    return baseline_files().get(suite)
