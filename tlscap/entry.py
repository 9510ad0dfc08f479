"""The `tlscap` command: signals handled first, then the command line imported and run.

Importing `tlscap.cli` takes a moment (cryptography, every report writer); a Ctrl-C or SIGTERM
during it ends with exit status 130 or 143 and one line, not a traceback.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

from tlscap import signals


def main() -> int:
    signals.install()
    try:
        from tlscap.cli import main as cli_main
    except KeyboardInterrupt:
        print("tlscap: interrupted", file=sys.stderr)
        _exit_now(signals.exit_status())
    status = cli_main()
    if signals.received() is not None:
        _exit_now(status)
    return status


def _exit_now(status: int) -> NoReturn:
    """End with `status` once a signal was handled (every clean-up has run by now). Not through the
    interpreter's normal exit: when the KeyboardInterrupt went through code a C extension ran with
    PyRun_* (during an import), CPython remembers it as unhandled and ends by killing itself with
    SIGINT (status -2), whatever status we return. The atexit functions run first (multiprocessing's
    removes its forkserver's folder)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def run() -> None:
    raise SystemExit(main())
