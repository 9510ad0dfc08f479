"""Run tlscap over the public corpus and list where it disagrees with tshark (a developer's tool).

    .venv/bin/python tests/diff_corpus.py [substring...]

Each difference is printed as test_corpus_differential.py lists it (stream, frame, field, what tshark
shows, what tlscap shows), marked `known` when that list holds it. The truth is tshark's default one:
for the captures in OUT_OF_ORDER the test regenerates it with out-of-order reassembly on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_facts import CORPUS, Difference, differences, has_tcp_tls, load_truth, truth_files  # noqa: E402
from corpus_facts import compare as compare_facts  # noqa: E402
from test_corpus_differential import KNOWN_DIFFERENCES  # noqa: E402

from tlscap.analysis.engine import analyze_capture  # noqa: E402


def compare(truth_path: Path) -> tuple[int, int, frozenset[Difference]] | None:
    truth = load_truth(truth_path)
    if not has_tcp_tls(truth):
        return None
    report = analyze_capture(str(CORPUS / truth["file"]))
    c = compare_facts(truth, report)
    return c.total, c.agreed, differences(c.tshark_only, c.tlscap_only)


def main(argv: list[str]) -> int:
    grand_total = grand_ok = 0
    for path in truth_files():
        if argv and not any(a in path.name for a in argv):
            continue
        result = compare(path)
        if result is None:
            continue
        total, ok, found = result
        grand_total += total
        grand_ok += ok
        if found:
            known = {k.difference() for k in KNOWN_DIFFERENCES if k.capture == path.name}
            print(f"== {path.name}: {ok}/{total}")
            for d in sorted(found, key=repr):
                print("   known" if d in known else "   NEW  ", str(d)[:300])
    print(f"agreement {grand_ok}/{grand_total} = {100 * grand_ok / max(grand_total, 1):.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
