"""Shared test setup. Nothing is skipped: a missing tshark or corpus fails the run, loudly."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # test helper modules (corpus_facts, pki_factory, ...)

CORPUS = TESTS.parent / ".." / "shared" / "corpus"


@pytest.fixture(scope="session")
def tshark_and_corpus() -> None:
    """The oracle and the public captures must be there (make test installs tshark; CI has ../shared)."""
    assert shutil.which("tshark"), "tshark is missing: run `make test`, which installs it"
    assert (CORPUS / "truth").is_dir(), f"the public corpus is missing at {CORPUS.resolve()}"
