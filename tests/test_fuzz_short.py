"""The short mutation-fuzzing run of `make test`: 10,000 deterministic cases over the corpus and the
samples (files up to 64 KiB), two workers, no minimizing: about 30 s on 2 cores.

A new failure fails the test with its case number; replay it with
`python tests/fuzz_mutate.py --case N --seed 20261127`, and run `make fuzz` (or the fuzzer without
--no-write) to have it minimized into tests/fuzz/. Failures recorded there as still open are counted,
not failed on: tests/test_fuzz_regressions.py runs them as strict xfails."""

from __future__ import annotations

import fuzz_mutate as F

SEED = 20261127
CASES = 10_000


def test_short_fuzz_run():
    summary = F.fuzz(cases=CASES, seed=SEED, jobs=2, minimize_new=False, write=False)
    report = "\n".join(summary.lines())
    print(report)
    assert summary.cases == CASES, report
    assert not summary.new, report
