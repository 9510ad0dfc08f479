"""How often TLS 1.3's record sizes, read without keys, agree with what the keys show.

Every TLS 1.3 connection of a capture that comes with keys (the samples' key logs, the corpus's key logs,
comments and Decryption Secrets Blocks) is analyzed twice: with keys, which is the truth, and without,
which is the record-size inference. Three questions are compared:

- certificate requested: a CertificateRequest before the client's Finished;
- client certificate: "chain", "empty" or "none" (no Certificate message before the client's Finished);
- server rejected: a fatal alert from the server, or an HTTP answer of 400 or more.

Run it as a script to print the table: `python tests/record_size_agreement.py`.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus_facts import CORPUS  # noqa: E402

from tlscap.analysis.engine import AnalysisOptions, analyze_capture  # noqa: E402
from tlscap.analysis.model import Connection  # noqa: E402
from tlscap.tls.keylog import load_keylog_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
QUESTIONS = ("certificate_requested", "client_certificate", "server_rejected")
# The answers a `certain` inference vouches for (a refusal is never more than likely).
CERTAIN_QUESTIONS = ("certificate_requested", "client_certificate")


@dataclass(frozen=True)
class Keyed:
    """A capture with its keys: a key log file, or None when they are inside it."""

    capture: Path
    keylog: Path | None
    group: str  # how the table groups it (server / client where known)


def keyed_captures() -> list[Keyed]:
    out: list[Keyed] = []
    for capture in sorted([*SAMPLES.rglob("*.pcap"), *SAMPLES.rglob("*.pcapng")]):
        keylog = capture.with_suffix(".keylog")
        if keylog.exists():
            out.append(Keyed(capture, keylog, _sample_group(capture)))
        elif capture.suffix == ".pcapng":
            out.append(Keyed(capture, None, "samples: DSB"))
    with open(CORPUS / "PROVENANCE.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row.get("keylog"):
                keylog = None if row["keylog"] == "capture-comment" else CORPUS / row["keylog"]
                out.append(Keyed(CORPUS / row["corpus_path"], keylog, "corpus: " + row["corpus_path"].split("/")[1]))
    return out


def _sample_group(capture: Path) -> str:
    manifest = capture.parent / "MANIFEST.tsv"
    if capture.parent.name == "tls13-stacks" and manifest.exists():
        for line in manifest.read_text().splitlines()[1:]:
            fields = line.split("\t")
            if fields[0] == capture.name:
                return f"{fields[1]} / {fields[2]}"
    if capture.parent.name == "client-stacks" and manifest.exists():
        for line in manifest.read_text().splitlines()[1:]:
            fields = line.split("\t")
            if fields[0] == capture.name:
                return f"nginx / {fields[2]}"
    if capture.name.startswith(("tls13-alert", "tls12-alert")) or "post-handshake" in capture.name:
        return "openssl s_server / s_client"
    if capture.parent.name == "verdict" and "alert-" in capture.name:
        return "openssl s_server / s_client"
    return "nginx / curl"


def truth(conn: Connection) -> dict[str, object]:
    """The three answers, read from the decrypted connection."""
    client_fin = next((h for h in conn.handshake if h.message == "Finished" and h.sender == "client"), None)
    limit = client_fin.frame if client_fin else conn.last_frame
    requested = any(cr.frame <= limit for cr in conn.certificate_requests)
    cert = next((c for c in conn.client_certificates if c.frame <= limit), None)
    client_certificate = "none" if cert is None else "chain" if cert.chain else "empty"
    rejected = any(a.sender == "server" and a.level == "fatal" for a in conn.alerts) or (
        conn.http is not None and conn.http.status >= 400)
    return {"certificate_requested": requested, "client_certificate": client_certificate, "server_rejected": rejected}


@dataclass
class Tally:
    agree: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    open: Counter = field(default_factory=Counter)  # the sizes could not tell
    connections: int = 0
    certain: int = 0
    certain_wrong: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)


def measure(cases: list[Keyed]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for case in cases:
        keylog = load_keylog_file(case.keylog) if case.keylog else None
        keyed = analyze_capture(str(case.capture), AnalysisOptions(keylog=keylog))
        plain = analyze_capture(str(case.capture), AnalysisOptions(embedded_secrets=False))
        blind = {c.id: c for c in plain.connections}
        for conn in keyed.connections:
            other = blind.get(conn.id)
            if not (conn.tls13 and conn.decrypted) or other is None or other.decrypted:
                continue
            tally = tallies.setdefault(case.group, Tally())
            tally.connections += 1
            want = truth(conn)
            inference = other.record_inference
            got = {q: getattr(inference, q) if inference else None for q in QUESTIONS}
            certain = inference is not None and inference.certain
            tally.certain += certain
            for q in QUESTIONS:
                if got[q] is None:
                    tally.open[q] += 1
                elif got[q] == want[q]:
                    tally.agree[q] += 1
                else:
                    tally.wrong[q] += 1
                    where = f"{case.capture.name} conn {conn.id}: {q} {got[q]!r}, keys show {want[q]!r}"
                    tally.mistakes.append(where)
                    if certain and q in CERTAIN_QUESTIONS:
                        tally.certain_wrong.append(where)
    return tallies


def overall(tallies: dict[str, Tally]) -> tuple[int, int, int]:
    """(agreeing answers, wrong answers, questions the sizes left open) over every question."""
    agree = sum(sum(t.agree.values()) for t in tallies.values())
    wrong = sum(sum(t.wrong.values()) for t in tallies.values())
    left = sum(sum(t.open.values()) for t in tallies.values())
    return agree, wrong, left


def table(tallies: dict[str, Tally]) -> str:
    lines = ["| server / client | connections | " + " | ".join(QUESTIONS) + " | certain (wrong) |",
             "|---|--:|" + "--:|" * len(QUESTIONS) + "--:|"]
    for group in sorted(tallies):
        t = tallies[group]
        cells = [f"{t.agree[q]}/{t.connections}" + (f" ({t.wrong[q]} wrong, {t.open[q]} open)"
                                                     if t.wrong[q] or t.open[q] else "") for q in QUESTIONS]
        certain = f" | {t.certain} ({len(t.certain_wrong)}) |"
        lines.append(f"| {group} | {t.connections} | " + " | ".join(cells) + certain)
    agree, wrong, left = overall(tallies)
    total = agree + wrong + left
    answered = 100 * (agree + wrong) / max(total, 1)
    agreeing = 100 * agree / max(agree + wrong, 1)
    lines.append(f"\noverall: of {total} questions, {agree + wrong} answered ({answered:.1f} %), and {agree} of "
                 f"those answers agree with the keys ({agreeing:.1f} %); {wrong} wrong, {left} left open (the sizes "
                 "cannot tell)")
    return "\n".join(lines)


if __name__ == "__main__":
    result = measure(keyed_captures())
    print(table(result))
    for t in result.values():
        for m in t.mistakes:
            print("  mistake:", m)
