"""Docstrings cite documents that ship with the repository: every ``docs/<name>.md`` named in
``upbench/`` exists, and no module points at a reference file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted((ROOT / "upbench").rglob("*.py"))]


def test_cited_docs_exist():
    cited = {(p, m) for p, text in _sources() for m in re.findall(r"docs/([\w-]+\.md)", text)}
    assert cited, "no module cites docs/ (the pattern is broken)"
    missing = sorted(f"{p.relative_to(ROOT)}: docs/{m}" for p, m in cited
                     if not (ROOT / "docs" / m).is_file())
    assert not missing, "\n".join(missing)


def test_no_reference_outside_the_repository():
    bad = re.compile(r"(?<!docs/)\b(DESIGN|METRICS|OPERATORS|PAPERS)\.md|\bshared/")
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p, text in _sources()
            for i, line in enumerate(text.splitlines(), 1) if bad.search(line)]
    assert not hits, "\n".join(hits)
