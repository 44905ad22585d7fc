"""JSON-safe values: what result files and ``--json`` output write."""

from __future__ import annotations

import math
import numbers
from typing import Any


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf floats as None (numpy scalars as Python numbers first), tuples and
    sets as lists, paths as strings."""
    if isinstance(obj, numbers.Integral) and not isinstance(obj, int):
        obj = int(obj)
    elif isinstance(obj, numbers.Real) and not isinstance(obj, (int, float)):
        obj = float(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj
