"""Golden outputs: the whole JSON report of every sample capture, compared as it is kept in git.

A change in behaviour shows as a failing test here and as a diff in tests/golden/ after
`make golden`, to be read in review.
"""

from __future__ import annotations

import pytest
from golden_cases import ROOT, golden_path, golden_runs, normalized, render, sample_captures

RUNS = golden_runs()


def test_every_run_has_a_golden_file():
    assert sample_captures(), "samples/ has no captures"
    missing = [r.name for r in RUNS if not golden_path(r).exists()]
    assert not missing, f"run `make golden` for: {missing}"
    # with key logs and with the servers' configured truststores too
    assert any(r.keylog for r in RUNS) and any(r.truststore for r in RUNS)


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_report_matches_golden(run, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = normalized(golden_path(run).read_text(encoding="utf-8"))
    assert normalized(render(run)) == expected
