"""The exception tree drawn in ``streamlib.errors``' docstring is the tree of the code."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import streamlib
from streamlib import errors

#: One drawn row: the box-drawing prefix, then the class name.
ROW = re.compile(r"^    (?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>[A-Z]\w+)\b")


def drawn_tree() -> dict[str, str | None]:
    """Class name -> parent name, as the docstring draws it."""
    doc = errors.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in block.splitlines():
        match = ROW.match(line)
        assert match, f"unreadable row in errors.py's drawing: {line!r}"
        depth = len(match["indent"]) // 4 + (0 if line.startswith("    Streamlib") else 1)
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def library_errors() -> dict[str, type[BaseException]]:
    """Every ``StreamlibError`` subclass defined in any streamlib module."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(streamlib.__path__, "streamlib."):
        if info.name.startswith("streamlib.metrics"):
            continue  # needs the metrics extra; it defines no exception
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, errors.StreamlibError)
                and obj.__module__ == info.name
            ):
                found[name] = obj
    return found


def test_the_drawing_matches_the_classes() -> None:
    drawn = drawn_tree()
    assert drawn["StreamlibError"] is None
    defined = {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.StreamlibError)
    }
    assert set(drawn) == set(defined)
    for name, parent in drawn.items():
        if parent is not None:
            assert defined[name].__bases__[0] is defined[parent], name


def test_every_library_error_lives_in_errors_py() -> None:
    outside = {
        n: c.__module__ for n, c in library_errors().items() if c.__module__ != errors.__name__
    }
    # The CLI's errors are click exceptions that carry exit codes, not library errors.
    assert outside == {}


def test_every_error_is_exported_and_documented() -> None:
    for name in drawn_tree():
        assert name in streamlib.__all__, name
        assert getattr(streamlib, name).__doc__, name
