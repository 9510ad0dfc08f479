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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "keytool: the test makes Java keystores with keytool")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Java keystores in tests are made with keytool (make test installs a JRE when it is missing)."""
    if item.get_closest_marker("keytool"):
        assert shutil.which("keytool"), "keytool is missing: run `make test`, which installs it"
