"""Regenerate tests/golden/*.json from the samples (make golden); review the diff before committing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden_cases import GOLDEN, ROOT, golden_path, render, sample_captures  # noqa: E402


def main() -> int:
    os.chdir(ROOT)
    GOLDEN.mkdir(exist_ok=True)
    wanted = {golden_path(c) for c in sample_captures()}
    for stale in set(GOLDEN.glob("*.json")) - wanted:
        stale.unlink()
    for capture in sample_captures():
        golden_path(capture).write_text(render(capture), encoding="utf-8")
        print(f"wrote {golden_path(capture).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
