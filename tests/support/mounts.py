"""A small filesystem of its own for a test, to fill up: a tmpfs of a few MB.

Mounting needs root (or CAP_SYS_ADMIN); where it is not permitted,
``small_filesystem`` raises ``MountUnavailable`` and the fixture skips the
test locally (fails it under CI).
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class MountUnavailable(Exception):
    """Mounting a filesystem is not permitted here."""


@contextlib.contextmanager
def small_filesystem(size_kib: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_kib`` KiB, mounted on a temp folder, unmounted after."""
    folder = Path(tempfile.mkdtemp(prefix="quotestream-fs-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        folder.rmdir()
        raise MountUnavailable(f"can't mount a tmpfs: {result.stderr.strip()}")
    try:
        yield folder
    finally:
        # Lazy: a file a test left open (a server's) must not keep the mount alive.
        subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.rmdir()


def fill_up(path: Path) -> int:
    """Write ``path`` until the filesystem is full; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1):  # big blocks, then what is left
            block = b"\0" * size
            while True:
                try:
                    written += f.write(block) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written
