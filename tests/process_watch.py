"""Watching the processes a test started, through /proc: their children, the files they hold open and how
far they have read them. Tests wait on these states, with a deadline, rather than sleeping and hoping."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    out, todo = [], children(pid)
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children(child))
    return out


def read_position(pid: int, path: Path) -> int | None:
    """How far process `pid` has read `path` (the offset of a descriptor it holds on it), or None when it
    does not hold it open."""
    target = str(path.resolve())  # the kernel shows the path with no symbolic link left in it
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone
        return None
    for fd in fds:
        try:
            if os.readlink(fd) != target:
                continue
            for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().splitlines():
                if line.startswith("pos:"):
                    return int(line.split()[1])
        except OSError:  # closed meanwhile
            continue
    return None


def has_open(pid: int, path: Path) -> bool:
    return read_position(pid, path) is not None


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail, naming what was awaited, after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting, after {seconds} s, for {what}")
        time.sleep(0.05)
