"""A small typed-dataclass validator for YAML configs.

:func:`build` turns a plain dict (from :func:`upbench.utils.yamlload.load_yaml`) into a
dataclass, checking every key against the dataclass's fields, every value against the field's
type annotation and, for fields declared with :func:`bound`, against their numeric bounds (ranges,
multiples, non-empty and duplicate-free lists, a name pattern). Numbers must be finite. Errors are
:class:`ConfigError`s naming the file, the dotted key and, where it helps, the closest valid value.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from upbench.utils.numbers import NumberError, check_number
from upbench.utils.suggest import closest


class ConfigError(ValueError):
    """A configuration error: ``<file>: <key>: <problem>[; did you mean <x>?]``."""

    def __init__(self, file: str, key: str, problem: str, suggestion: str | None = None):
        self.file, self.key, self.problem, self.suggestion = file, key, problem, suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{key or '<top level>'}: {problem}{hint}")


@dataclasses.dataclass(frozen=True)
class Bound:
    """Limits of one config field, checked by :func:`build` after the type (see :func:`bound`).

    For a list the numeric limits apply to every element, ``min_len``/``unique`` to the list.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    multiple_of: int | None = None
    min_len: int | None = None
    unique: bool = False
    pattern: str | None = None
    why: str = ""

    def check(self, value: Any, file: str, key: str) -> None:
        """Raise :class:`ConfigError` when ``value`` (already type-checked) breaks a limit."""
        if value is None:
            return
        if isinstance(value, (list, tuple)):
            if self.min_len is not None and len(value) < self.min_len:
                raise ConfigError(file, key, f"needs at least {self.min_len} entr"
                                  f"{'y' if self.min_len == 1 else 'ies'}{self._why()}")
            if self.unique:
                seen = [v for i, v in enumerate(value) if v in value[:i]]
                if seen:
                    raise ConfigError(file, key, f"lists {seen[0]!r} twice (each entry once)")
            for i, v in enumerate(value):
                self._scalar(v, file, f"{key}[{i}]")
            return
        self._scalar(value, file, key)

    def _why(self) -> str:
        return f" ({self.why})" if self.why else ""

    def _scalar(self, v: Any, file: str, key: str) -> None:
        if isinstance(v, str):
            if self.pattern is not None and not re.fullmatch(self.pattern, v):
                raise ConfigError(file, key, f"{v!r} is not allowed{self._why()}")
            return
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return
        try:  # the shared number checks (finite, in range)
            check_number(v, "value", ge=self.ge, gt=self.gt, le=self.le, lt=self.lt,
                         why=self.why)
        except NumberError as e:
            raise ConfigError(file, key, str(e).removeprefix("value ")) from None
        if self.multiple_of and v % self.multiple_of:
            raise ConfigError(file, key, f"must be a multiple of {self.multiple_of}, got "
                              f"{v!r}{self._why()}")

    def describe(self) -> str:
        """The limits in words (for docs and messages), e.g. ``>= 0``."""
        parts = [f"{w} {v:g}" for w, v in ((">=", self.ge), (">", self.gt), ("<=", self.le),
                                           ("<", self.lt)) if v is not None]
        if self.multiple_of:
            parts.append(f"multiple of {self.multiple_of}")
        if self.min_len:
            parts.append(f"at least {self.min_len} entries")
        if self.unique:
            parts.append("no duplicates")
        if self.pattern:
            parts.append(f"matching {self.pattern}")
        return ", ".join(parts)


def bound(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
          ge: float | None = None, gt: float | None = None, le: float | None = None,
          lt: float | None = None, multiple_of: int | None = None, min_len: int | None = None,
          unique: bool = False, pattern: str | None = None, why: str = "",
          omit_default: bool = False) -> Any:
    """A dataclass field with limits :func:`build` enforces, e.g.
    ``weight_decay: float = bound(1e-4, ge=0)`` or
    ``seeds: list[int] = bound(default_factory=lambda: [0], min_len=1, unique=True)``.
    ``why`` is appended to the error (the reason or the fix).

    ``omit_default``: :func:`to_dict` leaves the field out while it holds its default. For keys
    added after results were stored: a cell's config (and so its hash) stays what it was unless
    the suite sets the new key."""
    meta: dict[str, Any] = {"bound": Bound(ge, gt, le, lt, multiple_of, min_len, unique, pattern,
                                           why)}
    if omit_default:
        meta["omit_default"] = True
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def bounds_of(cls: type) -> dict[str, Bound]:
    """The :class:`Bound` of every bounded field of dataclass ``cls``."""
    return {f.name: f.metadata["bound"] for f in dataclasses.fields(cls) if "bound" in f.metadata}


def _finite(value: float, file: str, key: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(file, key, f"must be a finite number, got {value!r}")
    return value


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
        check_finite(value, file, key)
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
        check_finite(value, file, key)
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
            return _finite(float(value), file, key)
        if isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                return _finite(float(value), file, key)
            except ValueError:
                pass
        raise ConfigError(file, key, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(file, key, f"expected a string, got {value!r}")
    raise TypeError(f"schema: unsupported annotation {tp!r} at {key}")  # programming error


def check_finite(value: Any, file: str, key: str) -> None:
    """Raise :class:`ConfigError` for a NaN or infinite number anywhere inside ``value`` (free-form
    sections such as hyper-parameters are not typed, but never take non-finite numbers)."""
    if isinstance(value, float):
        _finite(value, file, key)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, file, _join(key, str(k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, file, f"{key}[{i}]")


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
            if "bound" in f.metadata:
                f.metadata["bound"].check(kwargs[name], file, key)
        elif field_types and name in field_types:
            kwargs[name] = coerce({}, field_types[name], file, key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(file, key, "missing required key")
    obj = cls(**kwargs)
    post = getattr(obj, "validate", None)
    if callable(post):
        post(file, prefix)
    return obj


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _omitted(f: dataclasses.Field, value: Any) -> bool:
    """A field declared ``bound(..., omit_default=True)`` holding its default."""
    return bool(f.metadata.get("omit_default")) and value == _default_of(f)


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able data (fields declared with ``omit_default`` left out
    while they hold their default)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.name.startswith("_") and not _omitted(f, getattr(obj, f.name))}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


__all__ = ["Bound", "ConfigError", "bound", "bounds_of", "build", "check_finite", "coerce",
           "to_dict", "typing"]
