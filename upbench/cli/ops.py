"""``upbench ops``: list, build, check and benchmark the native operators."""

from __future__ import annotations

import click


@click.group("ops")
def ops_group() -> None:
    """Native operators: list, build, check against the reference, benchmark."""
