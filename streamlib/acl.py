"""Least-privilege Redis ACL rules for the pipeline's roles.

Each role gets only the commands its code sends, and only on the stream's keys:

- ``producer``: XADD to the stream; XINFO GROUPS for backpressure. It can't
  read entries, acknowledge, or touch any other key.
- ``consumer``: the group loop (XGROUP CREATE, XREADGROUP, XACK, XAUTOCLAIM,
  XPENDING, XINFO GROUPS for metrics, XGROUP DELCONSUMER to leave the group on
  a clean stop) on the stream; the lease's script (EVALSHA, SCRIPT LOAD, and
  the XPENDING and XCLAIM ... JUSTID it calls); XRANGE, to read an entry the
  handler rejected again for its dead letter; MULTI/EXEC, and XADD only on the
  dead-letter stream (a Redis 7 selector), never on the main stream.
- ``operator``: what every ``streamctl`` command sends. On the stream: the
  inspection commands (TYPE, XINFO, XLEN, XRANGE/XREVRANGE/XREAD, XPENDING,
  MEMORY USAGE, TIME), group management (XGROUP CREATE/DESTROY/SETID/
  DELCONSUMER), XAUTOCLAIM, XADD (replay), XTRIM (safe trim) and EVAL (the
  prune and reclaim scripts: Redis checks every command a script calls against
  the same rule). On the dead-letter stream (a selector): XLEN, XRANGE,
  XREVRANGE, XDEL (replay) and XTRIM (purge). It can't read as a group member
  (XREADGROUP), acknowledge, delete keys, or touch any other key.

With ``partitions`` > 1 the rules name every partition's stream and its own
dead-letter stream (``{quotes:0}`` .. ``{quotes:P-1}``, ``{quotes:i}:dead``),
each key exactly: no pattern lets a role reach a key it has no business with.

``rules()`` returns the tokens for ``ACL SETUSER <user> on >PASSWORD <tokens>``;
``setuser_line()`` renders them for ``redis-cli``; ``acl_file()`` writes a whole
file for ``redis-server --aclfile`` (passwords as SHA-256 hashes, the default
user off).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from .errors import ConfigError
from .partitions import partition_dead_letters, partition_stream

_GLOB_SPECIALS = "*?[]\\"

#: Commands every role needs to connect and check liveness.
_BASE = ("+ping",)

#: Per role: commands allowed on the main stream (and keyless ones such as TIME).
_ROLE_COMMANDS: dict[str, Sequence[str]] = {
    "producer": ("+xadd", "+xinfo|groups"),
    "consumer": (
        "+xgroup|create",
        "+xreadgroup",
        "+xack",
        "+xautoclaim",
        "+xpending",
        "+xinfo|groups",
        "+xgroup|delconsumer",
        "+evalsha",
        "+script|load",
        "+xclaim",
        "+xrange",
        "+multi",
        "+exec",
        "+discard",
    ),
    "operator": (
        "+time",
        "+type",
        "+xinfo|stream",
        "+xinfo|groups",
        "+xinfo|consumers",
        "+memory|usage",
        "+xlen",
        "+xrange",
        "+xrevrange",
        "+xread",
        "+xpending",
        "+xgroup|create",
        "+xgroup|destroy",
        "+xgroup|setid",
        "+xgroup|delconsumer",
        "+xautoclaim",
        "+xadd",
        "+xtrim",
        "+eval",
    ),
}

#: Per role: commands allowed on the dead-letter stream only (a selector).
_DEAD_LETTER_COMMANDS: dict[str, Sequence[str]] = {
    "producer": (),
    # Dead letters: XADD (inside MULTI) on the dead-letter stream only.
    "consumer": ("+xadd",),
    # streamctl dead list / show / replay / purge, and info's XLEN.
    "operator": ("+xlen", "+xrange", "+xrevrange", "+xdel", "+xtrim"),
}

ROLES: tuple[str, ...] = tuple(_ROLE_COMMANDS)


def _key_pattern(name: str) -> str:
    """An ACL key pattern matching exactly ``name`` (glob characters escaped)."""
    return "~" + "".join("\\" + c if c in _GLOB_SPECIALS else c for c in name)


def rules(role: str, stream: str, dead_letter_stream: str, partitions: int = 1) -> list[str]:
    """ACL tokens (after ``on >password``) for ``role`` on the stream's ``partitions``."""
    if role not in _ROLE_COMMANDS:
        raise ConfigError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    tokens = ["resetkeys", "resetchannels", "-@all", *_BASE, *_ROLE_COMMANDS[role]]
    indexes = range(partitions)
    tokens += [_key_pattern(partition_stream(stream, i, partitions)) for i in indexes]
    dead_commands = _DEAD_LETTER_COMMANDS[role]
    if dead_commands:
        keys = [
            _key_pattern(partition_dead_letters(stream, i, partitions, dead_letter_stream))
            for i in indexes
        ]
        tokens.append(f"({' '.join(keys)} {' '.join(dead_commands)})")
    return tokens


def setuser_line(
    user: str, role: str, stream: str, dead_letter_stream: str, partitions: int = 1
) -> str:
    """``ACL SETUSER`` as one line, with ``>PASSWORD`` as a placeholder to fill in."""
    tokens = rules(role, stream, dead_letter_stream, partitions)
    return " ".join(["ACL SETUSER", user, "reset", "on", ">PASSWORD", *tokens])


#: The rule of a user that may only PING (a container healthcheck): no key, no other command.
PING_ONLY: tuple[str, ...] = ("resetkeys", "resetchannels", "-@all", "+ping")

#: The default user of an ACL file: off, so no client can log in as it. It keeps
#: every right for Redis's own sake: Redis 7 replays the AOF as the default user
#: and re-checks that user's rights at each EXEC, so without them every
#: transaction in the AOF (a group's reads, the dead letters) would be dropped,
#: silently, when the server restarts.
DEFAULT_USER_LINE = "user default reset off ~* &* +@all"


def acl_file(users: Mapping[str, tuple[str, Sequence[str]]]) -> str:
    """The text of an ACL file for ``redis-server --aclfile``.

    ``users`` maps each user name to its password and its rule (e.g.
    ``rules(role, ...)``). Passwords are written as SHA-256 hashes (``#<hex>``),
    never in clear. The default user is switched off: every client logs in as
    one of ``users`` (see ``DEFAULT_USER_LINE``).
    """
    lines = []
    for name, (password, tokens) in users.items():
        if not name or any(c.isspace() for c in name) or name == "default":
            raise ConfigError(f"invalid ACL user name {name!r}")
        if not password:
            raise ConfigError(f"ACL user {name!r} needs a password")
        digest = hashlib.sha256(password.encode()).hexdigest()
        lines.append(" ".join(["user", name, "reset", "on", f"#{digest}", *tokens]))
    lines.append(DEFAULT_USER_LINE)
    return "\n".join(lines) + "\n"
