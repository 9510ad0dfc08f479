"""Inputs the mutation fuzzer found that made the TCP reassembly loop forever (a segment exactly half the
sequence space away from the next expected byte). Each must now finish, with a report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlscap.analysis.engine import analyze_capture

CASES = sorted((Path(__file__).resolve().parent / "fuzz_lead").glob("*.bin"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fuzzed_capture_finishes(path):
    report = analyze_capture(str(path))
    assert not any(e.code == "internal-error" for e in report.errors)
