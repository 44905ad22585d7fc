"""Shared click parameter types: every command answers a bad choice the same way (exit 2, the
valid names and the closest one)."""

from __future__ import annotations

from typing import Any

import click

from upbench.utils.suggest import unknown_name_message


class Choice(click.Choice):
    """:class:`click.Choice` whose error names the closest valid value:
    ``Invalid value for '--format': unknown format 'mardown'; did you mean 'markdown'? (known:
    csv, json, latex, markdown, table)`` (exit code 2, as every usage error)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            kind = "value"
            if param is not None and getattr(param, "opts", None):
                kind = param.opts[0].lstrip("-")
            self.fail(unknown_name_message(kind, str(value), [str(c) for c in self.choices]),
                      param, ctx)
