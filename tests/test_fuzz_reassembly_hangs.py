"""Inputs the mutation fuzzer found that made the TCP reassembly loop forever (a segment exactly half the
sequence space away from the next expected byte), kept in tests/fuzz_reassembly_hangs/. Each must finish
with a report and no internal error. Each runs in a child process with a time limit, so a hang fails
the test instead of hanging the suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "tests" / "fuzz_reassembly_hangs").glob("*.bin"))
# Each case takes well under a second (plus the child's start); a hang never ends.
TIME_LIMIT_S = 30.0

ANALYZE = """
import json, sys
from tlscap.analysis.engine import analyze_capture
report = analyze_capture(sys.argv[1])
print(json.dumps([error.code for error in report.errors]))
"""


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fuzzed_capture_finishes(path: Path) -> None:
    try:
        done = subprocess.run([sys.executable, "-c", ANALYZE, str(path)], cwd=ROOT, capture_output=True, text=True,
                              timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        pytest.fail(f"{path.name}: the analysis was still running after {TIME_LIMIT_S:.0f} s (a hang)")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "internal-error" not in json.loads(done.stdout), done.stdout
