"""A small typed-dataclass validator for YAML configs.

:func:`build` turns a plain dict (from ``yaml.safe_load``) into a dataclass, checking every key
against the dataclass's fields and every value against the field's type annotation. Errors are
:class:`ConfigError`s naming the file, the dotted key and, where it helps, the closest valid value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from upbench.utils.suggest import closest


class ConfigError(ValueError):
    """A configuration error: ``<file>: <key>: <problem>[; did you mean <x>?]``."""

    def __init__(self, file: str, key: str, problem: str, suggestion: str | None = None):
        self.file, self.key, self.problem, self.suggestion = file, key, problem, suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{key or '<top level>'}: {problem}{hint}")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _typename(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_typename(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"list of {_typename(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, file: str, key: str) -> Any:
    """Check (and lightly coerce) ``value`` against the annotation ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, file, key)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(file, key, f"expected {_typename(tp)}, got {value!r}")
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        best = closest(str(value), [str(c) for c in choices])
        raise ConfigError(file, key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}",
                          best)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(file, key, f"expected {_typename(tp)}, got {value!r}")
        (inner,) = get_args(tp)[:1] or (Any,)
        return [coerce(v, inner, file, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, key, f"expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, file, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(file, key, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(file, key, f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(file, key, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(file, key, f"expected a string, got {value!r}")
    raise TypeError(f"schema: unsupported annotation {tp!r} at {key}")  # programming error


def build(cls: type, data: Any, file: str = "", prefix: str = "",
          field_types: dict[str, type] | None = None) -> Any:
    """Build dataclass ``cls`` from mapping ``data``; unknown/missing keys and bad types raise.

    ``field_types`` replaces the annotation of some fields (a suite's ``dataset`` section is the
    dataclass of its task); such a field missing from ``data`` is built from an empty mapping.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, prefix, f"expected a mapping, got {data!r}")
    hints = get_type_hints(cls) | (field_types or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
    for k in data:
        if not isinstance(k, str) or k not in fields:
            raise ConfigError(file, _join(prefix, str(k)), "unknown key",
                              closest(str(k), fields))
    kwargs = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name in data:
            kwargs[name] = coerce(data[name], hints[name], file, key)
        elif field_types and name in field_types:
            kwargs[name] = coerce({}, field_types[name], file, key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(file, key, "missing required key")
    obj = cls(**kwargs)
    post = getattr(obj, "validate", None)
    if callable(post):
        post(file, prefix)
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.name.startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


__all__ = ["ConfigError", "build", "coerce", "to_dict", "typing"]
