"""A full-screen view redrawn every interval until ``q`` (rich's ``Live``; the ``top`` extra).

The keyboard is read in cbreak mode (keys arrive one by one, unechoed;
Ctrl-C still interrupts) and restored on the way out, as is the screen.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, TypeVar

from .base import CommandError

S = TypeVar("S")

NEEDS_RICH = (
    "the live view needs rich: pip install 'quotestream[top]' "
    "(or use --once, or pipe the output for plain text)"
)
QUIT_KEYS = b"qQ"


def run(read: Callable[[], S], draw: Callable[[S, S], str], interval: float) -> None:
    """Show ``draw(before, after)`` of successive ``read()``s until ``q`` is pressed.

    The first frame (no rates yet) is ``draw(first, first)``. Ctrl-C raises
    ``KeyboardInterrupt`` to the caller, after the terminal is restored.
    """
    try:
        from rich.live import Live
        from rich.text import Text
    except ImportError:
        raise CommandError(NEEDS_RICH) from None

    def styled(text: str) -> Text:
        shown = Text(text + "\n\nq quits")
        shown.highlight_regex(r"(?m)^(GROUP|  CONSUMER) .*$", "bold")
        shown.highlight_regex(r"(?m)^! .*$", "bold red")
        return shown

    before = read()
    with (
        Keys(sys.stdin) as keys,
        Live(
            styled(draw(before, before)),
            screen=True,
            auto_refresh=False,
            vertical_overflow="crop",
        ) as view,
    ):
        while not keys.quit_within(interval):
            after = read()
            view.update(styled(draw(before, after)), refresh=True)
            before = after


class Keys:
    """Key presses on a terminal's stdin; on anything else, none ever come."""

    def __init__(self, stream: TextIO) -> None:
        self.fd: int | None = stream.fileno() if stream.isatty() else None
        self._saved: list[Any] | None = None
        self._ended = False

    def __enter__(self) -> Keys:
        if self.fd is not None:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.fd is not None and self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def quit_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; ``True`` as soon as ``q`` is pressed."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.fd is None or self._ended:
                time.sleep(left)
                break
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                break
            pressed = os.read(self.fd, 64)
            if not pressed:  # end of input: no more keys, only the clock
                self._ended = True
            elif any(key in QUIT_KEYS for key in pressed):
                return True
        return False
