"""The one way the tests run the CLI: in-process through click's runner."""

from __future__ import annotations

from click.testing import CliRunner, Result

from upbench.cli.main import cli


def invoke(*args: object) -> Result:
    """Run ``upbench <args>`` in-process (arguments stringified). Exceptions propagate, so a
    traceback fails the test; handled errors give their exit code as the console script."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
