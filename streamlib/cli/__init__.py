"""``streamctl``: inspect and repair a stream, its partitions and its consumer groups.

One module per command group (``info``, ``top``, ``pending``, ``consumers``,
``reclaim``, ``dead``, ``trim``, ``tail``, ``group``), each a thin layer over
``streamlib.ops``, and ``acl`` (Redis's ACL file for the roles, no Redis
needed); the shared options, exit codes and error mapping are in ``base``,
tables and JSON in ``output``.

Exit codes: 0 ok, 1 usage or bad input (or a refused / unconfirmed action),
2 Redis unreachable or credentials refused, 3 stream, group or dead letter not
found. With ``--json`` a command prints exactly one JSON document on stdout
(``tail --follow``: one per line); errors go to stderr. The Redis password
never appears in output or errors.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import click

from .acl import acl_group
from .base import EXIT_OK, StreamctlGroup
from .consumers import consumers
from .dead import dead
from .group import group
from .info import info
from .pending import pending
from .reclaim import reclaim
from .tail import tail
from .top import top
from .trim import trim


@click.group(cls=StreamctlGroup)
@click.version_option(package_name="quotestream", prog_name="streamctl")
def cli() -> None:
    """See and repair a Redis Streams pipeline (like kafka-consumer-groups).

    Every command acts on all partitions of the stream, or on one with
    --partition N.

    Exit codes: 0 ok, 1 usage or bad input, 2 Redis unreachable,
    3 stream or group not found.
    """


for _command in (info, top, pending, consumers, reclaim, dead, trim, tail, group, acl_group):
    cli.add_command(_command)


def main() -> NoReturn:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="streamctl: %(message)s")
    cli.main(prog_name="streamctl")
    raise SystemExit(EXIT_OK)  # pragma: no cover - main() always exits


__all__ = ["cli", "main"]
