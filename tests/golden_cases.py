"""The captures whose whole JSON report is kept in tests/golden/ and compared in review."""

from __future__ import annotations

import json
from pathlib import Path

from tlscap.analysis.engine import analyze_capture
from tlscap.analysis.model import Report
from tlscap.report.json_report import render_json

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def sample_captures() -> list[Path]:
    found = [*(ROOT / "samples").rglob("*.pcap"), *(ROOT / "samples").rglob("*.pcapng")]
    return sorted(p.relative_to(ROOT) for p in found)


def golden_path(capture: Path) -> Path:
    return GOLDEN / (str(capture.relative_to("samples")).replace("/", "__") + ".json")


def render(capture: Path) -> str:
    """The JSON report of one capture, as `tlscap analyze CAPTURE --format json` run from the root,
    indented field by field so that a change reads well in review."""
    report = Report(captures=[analyze_capture(str(capture))])
    return json.dumps(json.loads(render_json(report)), indent=2, ensure_ascii=False) + "\n"


def normalized(text: str) -> dict:
    return json.loads(text)
