"""Regenerate tests/golden/*.json from the samples, alone, with their key logs and with their servers'
configured truststores (make golden); review the diff before committing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden_cases import GOLDEN, ROOT, golden_path, golden_runs, render  # noqa: E402


def main() -> int:
    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    runs = golden_runs()
    wanted = {golden_path(r) for r in runs}
    for stale in set(GOLDEN.glob("*.json")) - wanted:
        stale.unlink()
    for run in runs:
        golden_path(run).write_text(render(run), encoding="utf-8")
        print(f"wrote {golden_path(run).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
