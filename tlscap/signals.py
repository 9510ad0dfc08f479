"""SIGINT and SIGTERM end tlscap the same way: as an exception in the main thread, so every `finally`
runs (scan workers and tshark children are killed, spools and temporary files removed, a report of
the files done is written where one can be), then exit status 130 (SIGINT) or 143 (SIGTERM).

`install` is the first thing the command line does, before any heavy import, so a Ctrl-C during the
imports ends without a traceback too. A second signal while tlscap is cleaning up is ignored: the
clean-up is short (workers are killed, not waited for).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same clean-up runs."""


_received: int | None = None
_deferring = 0  # > 0 inside `deferred()`: a signal is noted, and raised when the block ends
_pending: int | None = None


def received() -> int | None:
    """The first signal that stopped tlscap (SIGINT or SIGTERM), or None."""
    return _received


def exit_status() -> int:
    """130 after SIGINT (or a KeyboardInterrupt raised otherwise), 143 after SIGTERM."""
    return EXIT_TERMINATED if _received == signal.SIGTERM else EXIT_INTERRUPTED


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received, _pending
    if _received is not None:
        return  # already stopping
    _received = signum
    if _deferring:
        _pending = signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred() -> Iterator[None]:
    """A block a signal does not cut in two (one connection's part of a report): SIGINT or SIGTERM
    arriving inside it is raised when it ends."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending is not None:
        signum, _pending = _pending, None
        _raise(signum)


def install() -> None:
    """Make SIGINT and SIGTERM raise in the main thread (a no-op elsewhere, or when SIGINT is ignored,
    as for a command started in the background by a non-interactive shell)."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    except ValueError:  # not the main thread
        pass


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Linux: have the kernel send `signum` to this process when its parent ends (PR_SET_PDEATHSIG), so
    a worker or a tshark child never outlives tlscap, even a tlscap killed by SIGKILL. Safe in a
    `preexec_fn`; a no-op where prctl is missing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signum, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
