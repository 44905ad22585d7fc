"""The package's imports point one way: ``cli → engine → tasks → models/data/upsamplers → ops``.

Walks every module under ``upbench/`` with ``ast`` (imports inside functions count: they are
dependencies too; imports under ``if TYPE_CHECKING:`` do not, they are annotations) and fails on
an arrow from a lower layer to a higher one, or on any import circle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "upbench"

#: a module may import modules of its own layer or of a lower one (a larger number is higher)
LAYERS = {
    "utils": 0, "_interrupt": 0, "measure": 1, "ops": 2, "upbench": 2, "upsamplers": 3,
    "models": 4, "data": 4, "metrics": 4, "tasks": 5, "engine": 6, "gate": 7, "papers": 7, "catalog": 7,
    "cli": 8,
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    return skip


def import_graph() -> dict[str, set[str]]:
    """``{module: {upbench modules it imports}}`` over every module of the package."""
    modules = {_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_only(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "upbench"}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] == "upbench":
                for a in node.names:  # `from upbench import ops` imports the module upbench.ops
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in modules else node.module)
        graph[mod] = {d for d in deps if d in modules and d != mod}
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else "upbench"]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_top_level_package_has_a_layer():
    assert {layer(m) for m in import_graph()} <= set(LAYERS.values())


def test_no_import_points_up():
    graph = import_graph()
    back = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                  if layer(b) > layer(a))
    assert not back, "imports against the layers:\n" + "\n".join(back)


def test_no_import_circle():
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_circle_finder_finds_circles(graph, expected):
    assert circles(graph) == expected
