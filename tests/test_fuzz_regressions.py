"""Every input the mutation fuzzer (tests/fuzz_mutate.py) found failing, minimized, kept in tests/fuzz/.

Each `<sha>.bin` runs through the fuzzer's own checks (analysis, every report format, valid JSON and
UTF-8, no internal error, no hang) in a worker process, so a hang is stopped and the fuzzer's probes do
not leak into other tests. Its note `<sha>.json` says what failed and where; a bug not fixed yet has an
`xfail` reason there and runs as a strict xfail, so the fix is noticed.
"""

from __future__ import annotations

import json
from pathlib import Path

import fuzz_mutate as F
import pytest

CASES = sorted(F.FUZZ_DIR.glob("*.bin"))


def _params() -> list:
    out = []
    for path in CASES:
        note = json.loads(path.with_suffix(".json").read_text())
        marks = [pytest.mark.xfail(strict=True, reason=note["xfail"])] if note.get("xfail") else []
        out.append(pytest.param(path, note, id=path.stem, marks=marks))
    return out


@pytest.fixture(scope="module")
def pool():
    with F.Pool(1, timeout=5.0) as workers:
        yield workers


def test_every_case_has_a_note():
    assert CASES, "tests/fuzz/ holds no cases"
    for path in CASES:
        note = json.loads(path.with_suffix(".json").read_text())
        assert {"signature", "kind", "seed_file", "mutations", "status"} <= set(note), path
        assert (note["status"] == "open") == bool(note.get("xfail")), f"{path}: open cases are xfail, fixed ones not"


@pytest.mark.parametrize(("path", "note"), _params())
def test_fuzz_case(pool, path: Path, note: dict):
    keylog = note.get("keylog")
    if keylog:
        keylog = str((F.ROOT.parent / keylog).resolve())
    failure = pool.check(path.read_bytes(), keylog)
    assert failure is None, f"{failure.signature}: {failure.message}\n{failure.traceback}"


# --------------------------------------------------------------------------- found by the fuzzer, distilled


def _within(seconds: float, function):  # type: ignore[no-untyped-def]
    """Run `function`, failing (not hanging) when it takes longer than `seconds`."""
    import signal

    def expired(signum, frame):  # type: ignore[no-untyped-def]
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_segment_half_the_sequence_space_ahead_does_not_hang():
    """Found by the fuzzer (tests/fuzz/b7aa53da1e18f1af.bin): a waiting segment exactly 2^31 bytes ahead
    is neither ahead nor behind for seq_diff; flush() drops it (`_skip_hole`) rather than looping forever."""
    from tlscap.tcp.reassembly import DirectionReassembler

    reassembler = DirectionReassembler()
    reassembler.push(1000, b"a", 0, 1)
    reassembler.push(1001 + 2**31, b"b", 0, 2)
    _within(2.0, lambda: reassembler.flush(3))
    assert not reassembler.pending
