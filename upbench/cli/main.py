"""Entry point of the ``upbench`` console script: the top-level click group.

Each subcommand lives in its own module and is added here; every command has ``--json``.
Whatever a command does, the exit codes keep their meaning: an unexpected exception (a bug, or
input no check anticipated) exits 2 with the traceback, never 1 (which means "a regression" or
"a cell failed"); Ctrl-C exits 130.
"""

from __future__ import annotations

import sys
import traceback

from upbench._interrupt import quiet_interrupt

with quiet_interrupt():  # Ctrl-C during start-up: exit 130, no traceback
    import click

    from upbench import __version__
    from upbench.cli.baselines import baselines_cmd
    from upbench.cli.check import check_cmd
    from upbench.cli.compare import compare_cmd
    from upbench.cli.evaluate import eval_cmd
    from upbench.cli.flops import flops_cmd
    from upbench.cli.noise import noise_cmd
    from upbench.cli.ops import ops_group
    from upbench.cli.papers import papers_cmd
    from upbench.cli.run import run_cmd
    from upbench.cli.suite import suite_group
    from upbench.ops._build import CacheDirError


EXIT_CRASH = 2
EXIT_INTERRUPTED = 130


class UpbenchGroup(click.Group):
    """The top-level group: maps crashes and Ctrl-C inside any command to exit codes 2 and 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("upbench: interrupted\n")
            sys.exit(EXIT_INTERRUPTED)
        except CacheDirError as e:  # unusable input (the environment), not a bug
            sys.stderr.write(f"upbench: {e}\n")
            sys.exit(EXIT_CRASH)
        except Exception as e:  # noqa: BLE001 - last resort: a clear exit code, not 1
            sys.stderr.write(traceback.format_exc())
            sys.stderr.write(f"upbench: internal error ({type(e).__name__}: {e}); this is a bug "
                             "or unanticipated input — please report it with the traceback "
                             "above\n")
            sys.exit(EXIT_CRASH)


@click.group(cls=UpbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="upbench")
def cli() -> None:
    """upbench: benchmark feature-upsampling operators in dense prediction."""


cli.add_command(ops_group)
cli.add_command(suite_group)
cli.add_command(run_cmd)
cli.add_command(eval_cmd)
cli.add_command(compare_cmd)
cli.add_command(flops_cmd)
cli.add_command(check_cmd)
cli.add_command(baselines_cmd)
cli.add_command(papers_cmd)
cli.add_command(noise_cmd)


def main() -> None:
    """Console-script entry point."""
    with quiet_interrupt():
        cli()


if __name__ == "__main__":
    main()
