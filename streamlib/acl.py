"""Least-privilege Redis ACL rules for the pipeline's roles.

Each role gets only the commands its code sends, and only on the stream's keys:

- ``producer``: XADD to the stream; XINFO GROUPS for backpressure. It can't
  read entries, acknowledge, or touch any other key.
- ``consumer``: the group loop (XGROUP CREATE, XREADGROUP, XACK, XAUTOCLAIM,
  XPENDING, XINFO GROUPS for metrics) on the stream, MULTI/EXEC, and XADD only
  on the dead-letter stream (a Redis 7 selector), never on the main stream.

``rules()`` returns the tokens for ``ACL SETUSER <user> on >PASSWORD <tokens>``;
``setuser_line()`` renders them for a config file or ``redis-cli``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ConfigError

_GLOB_SPECIALS = "*?[]\\"

#: Commands every role needs to connect and check liveness.
_BASE = ("+ping",)

_ROLE_COMMANDS: dict[str, Sequence[str]] = {
    "producer": ("+xadd", "+xinfo|groups"),
    "consumer": (
        "+xgroup|create",
        "+xreadgroup",
        "+xack",
        "+xautoclaim",
        "+xpending",
        "+xinfo|groups",
        "+multi",
        "+exec",
        "+discard",
    ),
}

ROLES: tuple[str, ...] = tuple(_ROLE_COMMANDS)


def _key_pattern(name: str) -> str:
    """An ACL key pattern matching exactly ``name`` (glob characters escaped)."""
    return "~" + "".join("\\" + c if c in _GLOB_SPECIALS else c for c in name)


def rules(role: str, stream: str, dead_letter_stream: str) -> list[str]:
    """ACL tokens (after ``on >password``) for ``role`` on these streams."""
    if role not in _ROLE_COMMANDS:
        raise ConfigError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    tokens = ["resetkeys", "resetchannels", "-@all", *_BASE, *_ROLE_COMMANDS[role]]
    tokens.append(_key_pattern(stream))
    if role == "consumer":
        # Dead letters: XADD (inside MULTI) on the dead-letter stream only.
        tokens.append(f"({_key_pattern(dead_letter_stream)} +xadd)")
    return tokens


def setuser_line(user: str, role: str, stream: str, dead_letter_stream: str) -> str:
    """``ACL SETUSER`` as one line, with ``>PASSWORD`` as a placeholder to fill in."""
    return " ".join(
        ["ACL SETUSER", user, "reset", "on", ">PASSWORD", *rules(role, stream, dead_letter_stream)]
    )
