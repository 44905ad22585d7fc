"""Entry point of the ``upbench`` console script: the top-level click group.

Each subcommand lives in its own module and is added here; every command has ``--json``.
"""

from __future__ import annotations

import click

from upbench import __version__
from upbench.cli.check import check_cmd
from upbench.cli.compare import compare_cmd
from upbench.cli.flops import flops_cmd
from upbench.cli.ops import ops_group
from upbench.cli.run import run_cmd
from upbench.cli.suite import suite_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="upbench")
def cli() -> None:
    """upbench: benchmark feature-upsampling operators in dense prediction."""


cli.add_command(ops_group)
cli.add_command(suite_group)
cli.add_command(run_cmd)
cli.add_command(compare_cmd)
cli.add_command(flops_cmd)
cli.add_command(check_cmd)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
