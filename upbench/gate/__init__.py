"""The CI regression gate (``upbench check``): result sets against a stored baseline."""

from upbench.gate.baseline import (
    BASELINE_SCHEMA,
    Baseline,
    BaselineError,
    build_baseline,
    load_baseline,
)
from upbench.gate.check import CheckRow, check_results

__all__ = [
    "BASELINE_SCHEMA",
    "Baseline",
    "BaselineError",
    "CheckRow",
    "build_baseline",
    "check_results",
    "load_baseline",
]
