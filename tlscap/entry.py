"""The `tlscap` command: signals handled first, then the command line imported and run.

Importing `tlscap.cli` takes a moment (cryptography, every report writer); a Ctrl-C or SIGTERM
during it ends with exit status 130 or 143 and one line, not a traceback.
"""

from __future__ import annotations

import sys

from tlscap import signals


def main() -> int:
    signals.install()
    try:
        from tlscap.cli import main as cli_main
    except KeyboardInterrupt:
        print("tlscap: interrupted", file=sys.stderr)
        return signals.exit_status()
    return cli_main()


def run() -> None:
    raise SystemExit(main())
