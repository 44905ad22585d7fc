"""The benchmark engine: suites, cells, the runner, profiling and result files."""

from upbench.engine.schema import ConfigError
from upbench.engine.suite import Cell, Suite, expand, load_suite

__all__ = ["Cell", "ConfigError", "Suite", "expand", "load_suite"]
