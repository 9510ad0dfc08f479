"""Golden outputs: the whole JSON report of every sample capture, compared as it is kept in git.

A change in behaviour shows as a failing test here and as a diff in tests/golden/ after
`make golden`, to be read in review.
"""

from __future__ import annotations

import pytest
from golden_cases import ROOT, golden_path, normalized, render, sample_captures

CAPTURES = sample_captures()


def test_every_sample_has_a_golden_file():
    assert CAPTURES, "samples/ has no captures"
    missing = [str(c) for c in CAPTURES if not (ROOT / golden_path(c)).exists()]
    assert not missing, f"run `make golden` for: {missing}"


@pytest.mark.parametrize("capture", CAPTURES, ids=[str(c) for c in CAPTURES])
def test_report_matches_golden(capture, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = normalized((ROOT / golden_path(capture)).read_text(encoding="utf-8"))
    assert normalized(render(capture)) == expected
