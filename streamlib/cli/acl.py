"""``streamctl acl file``: Redis's ACL file for the pipeline's roles (no Redis needed).

One user per role of ``streamlib.acl`` (``producer``, ``consumer``,
``operator``), named after it, with the role's rule on the stream. Each
password comes from the environment (``REDIS_PRODUCER_PASSWORD``, ...), never
from the command line, and is written as a SHA-256 hash. The default user is
switched off. A container stack renders the file at start from its secrets and
points ``redis-server --aclfile`` at it (see docker-compose.yml).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from .. import acl
from ..errors import ConfigError
from ..settings import StreamSettings, load, setting, setting_fields
from .base import CommandError, settings_options


@dataclasses.dataclass(frozen=True, repr=False)
class RolePasswords:
    """One password per role of ``streamlib.acl``, from the environment only."""

    producer: str | None = setting(None, env="REDIS_PRODUCER_PASSWORD", help="The producer's.")
    consumer: str | None = setting(None, env="REDIS_CONSUMER_PASSWORD", help="The consumers'.")
    operator: str | None = setting(None, env="REDIS_OPERATOR_PASSWORD", help="streamctl's.")

    def __repr__(self) -> str:
        return "RolePasswords(***)"


#: The environment variable holding each role's password.
PASSWORD_ENV: dict[str, str] = {row.name: row.env for row in setting_fields(RolePasswords)}

#: The user that ``--healthcheck-password-file`` adds (PING only).
HEALTHCHECK_USER = "healthcheck"


def _write(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` at once (a reader never sees half a file)."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, mode)
    os.replace(tmp.name, path)


@click.group("acl")
def acl_group() -> None:
    """Redis ACL users for the producer, consumer and operator roles."""


@acl_group.command("file")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@settings_options(StreamSettings, "stream", "dead_letter_stream", "partitions")
@click.option(
    "--healthcheck-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Also a user {HEALTHCHECK_USER!r} that may only PING, with the password in "
    "this file; a new random one (mode 600) if the file does not exist yet.",
)
def acl_file(
    path: Path,
    stream: str | None,
    dead_letter_stream: str | None,
    partitions: int | None,
    healthcheck_password_file: Path | None,
) -> None:
    """Write an ACL file for redis-server --aclfile to PATH.

    Passwords come from REDIS_PRODUCER_PASSWORD, REDIS_CONSUMER_PASSWORD and
    REDIS_OPERATOR_PASSWORD; the file holds only their SHA-256 hashes.
    """
    try:
        s = StreamSettings.from_env(
            stream=stream, dead_letter_stream=dead_letter_stream, partitions=partitions
        )
        passwords = dataclasses.asdict(load(RolePasswords))
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    missing = [PASSWORD_ENV[role] for role in acl.ROLES if not passwords[role]]
    if missing:
        raise CommandError(f"set {', '.join(missing)} (one password per role)")
    users: dict[str, tuple[str, Sequence[str]]] = {
        role: (passwords[role], acl.rules(role, s.stream, s.dead_letters, s.partitions))
        for role in acl.ROLES
    }
    if healthcheck_password_file is not None:
        # Kept across renders: a running server and its healthcheck keep agreeing.
        if healthcheck_password_file.exists():
            password = healthcheck_password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(32)
            _write(healthcheck_password_file, password + "\n", 0o600)
        users[HEALTHCHECK_USER] = (password, acl.PING_ONLY)
    # Readable by the Redis server's own user: it holds hashes only.
    _write(path, acl.acl_file(users), 0o644)
    click.echo(f"wrote {path}: users {', '.join(users)}; the default user is off")
