"""The benchmark engine: suites, cells, the runner, profiling and result files."""

from upbench.engine.suite import Cell, Suite, expand, load_suite
from upbench.utils.schema import ConfigError

__all__ = ["Cell", "ConfigError", "Suite", "expand", "load_suite"]
