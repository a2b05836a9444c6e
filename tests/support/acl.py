"""ACL users with exactly the documented rule of each role, on a private server."""

from __future__ import annotations

import redis

from streamlib import acl
from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis


def add_role_user(
    server: LocalRedis, role: str, password: str, *, stream: str = "quotes", user: str = ""
) -> str:
    """Create user ``user`` (default: the role's name) with ``role``'s rule; its URL."""
    name = user or role
    admin = client_from_url(server.url)
    try:
        admin.execute_command(
            "ACL", "SETUSER", name, "reset", "on", f">{password}",
            *acl.rules(role, stream, stream + ":dead"),
        )  # fmt: skip
    finally:
        admin.close()
    return f"redis://{name}:{password}@127.0.0.1:{server.port}/0"


def is_noperm(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis's ACL refusal (directly, or from inside a script)."""
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return True
    text = str(exc)
    return isinstance(exc, redis.ResponseError) and (
        "NOPERM" in text or "The user executing the script can't" in text
    )
