"""The runs whose whole JSON report is kept in tests/golden/ and compared in review.

Every sample capture is run alone; those with a key log of the same basename again with it (`+keys`);
those whose server's configured truststore is known again with the key log and that truststore
(`+trust`): samples/stale-truststore/bundle-AB.pem, and for samples/verdict/ the file MANIFEST.tsv names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import Report
from tlscap.pki.truststore import load_truststore
from tlscap.report.json_report import render_json
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
STALE_CONFIGURED = Path("samples/stale-truststore/bundle-AB.pem")


@dataclass(frozen=True)
class GoldenRun:
    capture: Path  # relative to ROOT
    keylog: Path | None = None
    truststore: Path | None = None

    @property
    def name(self) -> str:
        suffix = "+trust" if self.truststore else "+keys" if self.keylog else ""
        return str(self.capture.relative_to("samples")).replace("/", "__") + suffix

    def __str__(self) -> str:
        return self.name


def sample_captures() -> list[Path]:
    """Every sample but samples/tls13-stacks/ and samples/client-stacks/, whose one-client captures are held to
    what they were built to show by tests/test_verdicts_samples.py, tests/test_client_stacks.py and
    tests/test_record_sizes.py instead."""
    found = [*(ROOT / "samples").rglob("*.pcap"), *(ROOT / "samples").rglob("*.pcapng")]
    return sorted(p.relative_to(ROOT) for p in found if p.parent.name not in ("tls13-stacks", "client-stacks"))


def _configured_truststores() -> dict[Path, Path]:
    out = {Path("samples/stale-truststore/stale-truststore.pcap"): STALE_CONFIGURED,
           Path("samples/stale-truststore/stale-truststore-reloaded.pcap"): STALE_CONFIGURED}
    manifest = ROOT / "samples" / "verdict" / "MANIFEST.tsv"
    for line in manifest.read_text().splitlines()[1:]:
        fields = line.split("\t")
        if fields[4]:
            out[Path("samples/verdict") / fields[0]] = Path("samples/verdict") / fields[4]
    return out


def golden_runs() -> list[GoldenRun]:
    runs = []
    trusted = _configured_truststores()
    for capture in sample_captures():
        runs.append(GoldenRun(capture))
        keylog = capture.with_suffix(".keylog")
        if (ROOT / keylog).exists():
            runs.append(GoldenRun(capture, keylog))
            if capture in trusted:
                runs.append(GoldenRun(capture, keylog, trusted[capture]))
    return runs


def golden_path(run: GoldenRun) -> Path:
    return GOLDEN / (run.name + ".json")


def render(run: GoldenRun) -> str:
    """The JSON report of one run, as `tlscap analyze CAPTURE [--keylog K] [--truststore T] --format json` run
    from the root, indented field by field so that a change reads well in review."""
    options = AnalysisOptions(keylog=load_keylog_file(run.keylog) if run.keylog else None,
                              truststore=load_truststore([str(run.truststore)]) if run.truststore else None)
    report = Report(captures=[analyze_capture(str(run.capture), options)])
    return json.dumps(json.loads(render_json(report)), indent=2, ensure_ascii=False) + "\n"


def normalized(text: str) -> dict:
    return json.loads(text)
