"""Reading user YAML (suites) defensively: a size limit, an alias-expansion limit, duplicate keys
refused, UTF-8 required; every problem a :class:`~upbench.utils.schema.ConfigError` naming the
file (and the line where YAML gives one).

``yaml.safe_load`` alone accepts a 540-byte "billion laughs" document whose aliases expand to
billions of nodes (anything that walks the result — hashing, printing, copying — then exhausts
memory), and silently keeps the last of two equal keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from upbench.utils.schema import ConfigError

MAX_BYTES = 1 << 20  # 1 MiB: a suite is a page of YAML
MAX_NODES = 100_000  # nodes after alias expansion


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}"


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (merge keys ``<<`` still work)."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # SafeLoader reports unhashable keys itself
                if key in seen:
                    raise ConfigError(self.name, str(key), f"duplicate key ({_where(seen[key])} "
                                      f"and {_where(key_node)}); keep one")
                seen[key] = key_node
        return super().construct_mapping(node, deep)  # type: ignore[arg-type]  # SafeLoader reports a non-mapping


def expanded_size(node: Node, limit: int = MAX_NODES) -> int:
    """The number of nodes of ``node`` with every alias expanded (memoised, so a billion-laughs
    graph is measured in linear time); stops counting past ``limit``."""
    memo: dict[int, int] = {}

    def size(n: Node, depth: int) -> int:
        if id(n) in memo:
            return memo[id(n)]
        if depth > 200:
            return limit + 1
        total = 1
        if isinstance(n, SequenceNode):
            children = n.value
        elif isinstance(n, MappingNode):
            children = [c for kv in n.value for c in kv]
        else:
            children = []
        for c in children:
            total += size(c, depth + 1)
            if total > limit:
                break
        memo[id(n)] = min(total, limit + 1)
        return memo[id(n)]

    return size(node, 0)


def load_yaml(text: str, file: str = "") -> Any:
    """Parse YAML ``text`` with the limits of this module.

    Raises:
        ConfigError: invalid YAML, a duplicate key, or more than :data:`MAX_NODES` nodes once
            aliases are expanded.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(file, "", f"larger than {MAX_BYTES // 1024} KiB; a suite is a short "
                          "YAML file")
    try:  # the reader refuses control characters already in the constructor
        loader = _Loader(text)
    except yaml.YAMLError as e:
        raise ConfigError(file, "", f"invalid YAML: {' '.join(str(e).split())}") from None
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node) > MAX_NODES:
            raise ConfigError(file, "", f"YAML aliases expand to more than {MAX_NODES} nodes "
                              "(an alias bomb?); write the values out or use fewer aliases")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        raise ConfigError(file, "", f"invalid YAML: {' '.join(str(e).split())}") from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file (:func:`load_yaml`); not UTF-8 or over the size limit is a
    :class:`ConfigError` naming the file."""
    path = Path(path)
    file = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(file, "", f"{path.stat().st_size} bytes, larger than "
                              f"{MAX_BYTES // 1024} KiB; a suite is a short YAML file")
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(file, "", f"cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(file, "", f"not UTF-8 text (byte 0x{data[e.start]:02x} on line "
                          f"{line}); save the file as UTF-8") from None
    return load_yaml(text.removeprefix("\ufeff"), file)


__all__ = ["MAX_BYTES", "MAX_NODES", "expanded_size", "load_yaml", "load_yaml_file"]
