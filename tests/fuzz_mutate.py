#!/usr/bin/env python3
"""Mutation fuzzer for the whole `tlscap analyze`, in-process: captures in, reports out, nothing may break.

Seeds are the public corpus (../shared/corpus/files/**) and samples/**: every pcap, pcapng or gzip file up
to `--max-size` bytes, with its key log when it has one (so decryption is fuzzed too). Each case takes one
seed and applies one to three mutations, chosen by a RNG seeded with (--seed, case number), so any case
can be replayed alone (`--case N`):

- bit flips, byte overwrites with edge values, byte insertions and deletions, truncation;
- length-field inflation (and deflation) in pcap record headers and pcapng blocks (block total length,
  captured length, original length, secrets length), in TLS record and handshake headers, in the vectors
  of a Certificate message, and in the DER lengths of certificates and names;
- type confusion: a record's content type or version, a handshake message's type, a ServerHello's
  selected version changed to another real one (TLS 1.3 drafts, DTLS, SSL 2.0 included);
- frame duplication, deletion and reordering (pcap records, pcapng blocks), splicing a frame of another seed;
- the result gzip-compressed (sometimes cut short) now and then.

Each case runs `analyze_capture` (with the seed's key log), then renders JSON, JSON Lines, text, HTML, CSV
and Markdown. A case fails on:

- any exception out of the analysis or a renderer (tlscap documents none: `analyze_capture` never raises);
- a capture error `internal-error` (the engine turns an unexpected exception into one: it is a bug), and
  an exception inside the packet decoder (whose own safety net would hide it);
- a certificate summary that needed its last-resort fallback ("unreadable certificate (...)");
- output that is not valid JSON, a JSON Lines line that is not, or any output that is not valid UTF-8;
- a hang: a case over `--timeout` seconds (a timer in the worker gives the stack; the parent kills a
  worker that does not answer 5 s later), and memory over `--memory` MiB.

Cases run in worker processes (`--jobs`). A new failure is minimized (frames first, then delta debugging
over bytes, within a budget) and written to tests/fuzz/<sha>.bin with a note <sha>.json (signature,
traceback, seed file, case, mutations). Failures already recorded there with `"status": "open"` are
counted as known, not as new. Exit status: 1 when a new failure was found.

    python tests/fuzz_mutate.py --cases 100000            # what `make fuzz` runs
    python tests/fuzz_mutate.py --seconds 600 --seed 7
    python tests/fuzz_mutate.py --case 1234 --write /tmp/case.pcap   # replay one case
    python tests/fuzz_mutate.py --check tests/fuzz/abc.bin           # run the checks on one file
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / ".." / "shared" / "corpus"
SAMPLES = ROOT / "samples"
FUZZ_DIR = TESTS / "fuzz"
DEFAULT_MAX_SIZE = 64 * 1024
DEFAULT_TIMEOUT = 5.0  # the slowest passing case seen takes 0.3 s
MINIMIZE_HANG_TIMEOUT = 2.0
HARD_GRACE = 5.0
DEFAULT_MEMORY_MIB = 3072

# =========================================================================== seeds


@dataclass(frozen=True, slots=True)
class Seed:
    name: str  # path relative to the project's parent folder (stable across machines)
    data: bytes
    keylog: str | None  # absolute path of its key log, if any


def _capture_kind(data: bytes) -> str | None:
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                    b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34"):
        return "pcap"
    return None


def _corpus_keylogs() -> dict[str, str]:
    with open(CORPUS / "PROVENANCE.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {r["corpus_path"]: str((CORPUS / r["keylog"]).resolve()) for r in rows
            if r.get("keylog") and r["keylog"] != "capture-comment"}


def load_seeds(max_size: int = DEFAULT_MAX_SIZE) -> list[Seed]:
    """Every capture of the corpus and the samples up to `max_size` bytes, in a stable order. The corpus
    must be there (a run over the samples alone would fuzz less than it says)."""
    if not (CORPUS / "files").is_dir():
        raise FileNotFoundError(f"the public corpus is missing: no folder {(CORPUS / 'files').resolve()}")
    keylogs = _corpus_keylogs()
    seeds: list[Seed] = []
    for label, folder in (("shared/corpus/files", CORPUS / "files"), ("samples", SAMPLES)):
        top = folder.resolve()  # ../shared may be a link (a CI layout): name seeds from their folder
        for path in sorted(top.rglob("*")):
            if not path.is_file() or path.stat().st_size > max_size:
                continue
            data = path.read_bytes()
            if _capture_kind(data) is None:
                continue
            keylog = None
            if folder == SAMPLES:
                beside = path.with_suffix(".keylog")
                keylog = str(beside) if beside.exists() else None
            else:
                keylog = keylogs.get(str(path.relative_to(CORPUS.resolve())))
            seeds.append(Seed(name=f"{label}/{path.relative_to(top)}", data=data, keylog=keylog))
    return seeds


# =========================================================================== capture structure


@dataclass(slots=True)
class Layout:
    """Where the frames (pcap records, pcapng blocks) and their length fields are in a capture."""

    kind: str  # pcap | pcapng
    header_end: int
    spans: list[tuple[int, int]]  # [start, end) of each record or block, in file order
    fields: list[tuple[int, int, str]]  # (offset, size, byte order) of every length field found


_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 16), b"\xa1\xb2\xc3\xd4": (">", 16), b"\x4d\x3c\xb2\xa1": ("<", 16),
                b"\xa1\xb2\x3c\x4d": (">", 16), b"\x34\xcd\xb2\xa1": ("<", 24), b"\xa1\xb2\xcd\x34": (">", 24)}


def layout(data: bytes) -> Layout | None:
    """The capture's frames, as far as they can be walked; None for other data."""
    if data[:4] in _PCAP_MAGICS:
        order, hsize = _PCAP_MAGICS[data[:4]]
        spans, fields = [], [(16, 4, order)]  # the snap length
        pos = 24
        while pos + hsize <= len(data):
            (caplen,) = struct.unpack_from(order + "I", data, pos + 8)
            end = pos + hsize + caplen
            if end > len(data):
                break
            spans.append((pos, end))
            fields += [(pos + 8, 4, order), (pos + 12, 4, order)]
            pos = end
        return Layout("pcap", 24, spans, fields)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        spans, fields = [], []
        pos, order = 0, "<"
        while pos + 12 <= len(data):
            if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
                order = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(data[pos + 8 : pos + 12], order)
            block_type, length = struct.unpack_from(order + "II", data, pos)
            if length < 12 or pos + length > len(data):
                break
            spans.append((pos, pos + length))
            fields += [(pos + 4, 4, order), (pos + length - 4, 4, order)]
            if block_type in (2, 6) and length >= 32:
                fields += [(pos + 20, 4, order), (pos + 24, 4, order)]  # captured, original length
            elif block_type == 3 and length >= 16:
                fields.append((pos + 8, 4, order))
            elif block_type == 10 and length >= 20:
                fields.append((pos + 12, 4, order))  # secrets length
            elif block_type == 1 and length >= 20:
                fields.append((pos + 12, 4, order))  # snap length
            pos += length
        return Layout("pcapng", 0, spans, fields)
    return None


_TLS_HEADER = re.compile(rb"[\x14-\x18]\x03[\x00-\x04]")
_DER_HEADER = re.compile(rb"[\x30\x31\x0c\x13\x16\x1e\x02\x03\x04\x06\x17\x18\xa0\xa3][\x01-\x84]")


def tls_fields(data: bytes) -> list[tuple[int, int, str]]:
    """Length fields of plausible TLS record and handshake headers (and Certificate vectors) in `data`."""
    out: list[tuple[int, int, str]] = []
    for match in _TLS_HEADER.finditer(data):
        pos = match.start()
        if pos + 5 > len(data):
            continue
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if not 0 < length <= 18432:
            continue
        out.append((pos + 3, 2, ">"))
        if data[pos] == 22 and pos + 9 <= len(data):
            out.append((pos + 6, 3, ">"))
            if data[pos + 5] in (11, 13) and pos + 15 <= len(data):
                out += [(pos + 9, 3, ">"), (pos + 12, 3, ">")]  # list length, first entry's length
    return out


def der_fields(data: bytes) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for match in _DER_HEADER.finditer(data):
        first = data[match.start() + 1]
        if first < 0x80:
            out.append((match.start() + 1, 1, ">"))
        elif 0x81 <= first <= 0x84:
            out.append((match.start() + 2, first & 0x7F, ">"))
        if len(out) > 4000:
            break
    return out


# =========================================================================== mutations

_EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x16, 0x03, 0x30, 0x0A)


def _set_int(data: bytearray, offset: int, size: int, order: str, value: int) -> None:
    value &= (1 << (8 * size)) - 1
    data[offset : offset + size] = value.to_bytes(size, "little" if order == "<" else "big")


def _new_length(rng: random.Random, old: int, size: int) -> int:
    top = (1 << (8 * size)) - 1
    choices: list[Callable[[], int]] = [
        lambda: old + 1, lambda: old - 1, lambda: old + 4, lambda: old * 2, lambda: old + rng.randint(2, 2000),
        lambda: 0, lambda: top, lambda: top - 1, lambda: top >> 1, lambda: rng.randint(0, top),
        lambda: old ^ (1 << rng.randrange(8 * size)), lambda: rng.randint(0, max(old, 1)),
        lambda: 18432, lambda: 18433, lambda: 1 << 20, lambda: (1 << 20) + 1, lambda: 65535, lambda: 262145,
    ]
    return rng.choice(choices)() % (top + 1)


def _inflate(rng: random.Random, data: bytearray, fields: list[tuple[int, int, str]]) -> str:
    fields = [f for f in fields if f[0] + f[1] <= len(data)]
    if not fields:
        return _flip(rng, data)
    offset, size, order = rng.choice(fields)
    old = int.from_bytes(data[offset : offset + size], "little" if order == "<" else "big")
    new = _new_length(rng, old, size)
    _set_int(data, offset, size, order, new)
    return f"length@{offset}/{size}:{old}->{new}"


def _flip(rng: random.Random, data: bytearray) -> str:
    if not data:
        return "flip(empty)"
    spots = []
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        spots.append(pos)
    return f"flip{spots}"


def _overwrite(rng: random.Random, data: bytearray) -> str:
    if not data:
        return "overwrite(empty)"
    spots = []
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(data))
        data[pos] = rng.choice(_EDGE_BYTES) if rng.random() < 0.6 else rng.randrange(256)
        spots.append(pos)
    return f"overwrite{spots}"


def _insert(rng: random.Random, data: bytearray) -> str:
    pos = rng.randint(0, len(data))
    count = rng.choice((1, 1, 2, 3, 4, 8, 16, 64, 300))
    filler = bytes([rng.choice(_EDGE_BYTES)]) * count if rng.random() < 0.5 else rng.randbytes(count)
    data[pos:pos] = filler
    return f"insert@{pos}x{count}"


def _delete(rng: random.Random, data: bytearray) -> str:
    if not data:
        return "delete(empty)"
    pos = rng.randrange(len(data))
    count = rng.choice((1, 1, 2, 3, 4, 8, 16, 64, 300))
    del data[pos : pos + count]
    return f"delete@{pos}x{count}"


def _truncate(rng: random.Random, data: bytearray) -> str:
    cut = rng.randint(0, len(data))
    del data[cut:]
    return f"truncate@{cut}"


_HANDSHAKE_TYPES = (0, 1, 2, 3, 4, 8, 11, 12, 13, 14, 15, 16, 20, 22, 24, 254)
_VERSIONS = (0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7F12, 0x7F16, 0x7F1C, 0x7E02, 0xFEFF, 0xFEFD,
             0x0A0A)


def _tls_field(rng: random.Random, data: bytearray) -> str:
    """Type confusion: a record's content type or version, or a handshake message's type, changed to
    another real one (a Certificate read as a CertificateRequest, TLS 1.2 read as a TLS 1.3 draft, ...)."""
    headers = [m.start() for m in _TLS_HEADER.finditer(bytes(data)) if m.start() + 6 <= len(data)]
    if not headers:
        return _flip(rng, data)
    pos = rng.choice(headers)
    what = rng.choice(("content-type", "version", "handshake-type", "handshake-type", "supported-version"))
    if what == "content-type":
        data[pos] = rng.choice((20, 21, 22, 23, 24))
    elif what == "version":
        data[pos + 1 : pos + 3] = rng.choice(_VERSIONS).to_bytes(2, "big")
    elif what == "handshake-type" and data[pos] == 22:
        data[pos + 5] = rng.choice(_HANDSHAKE_TYPES)
    else:
        found = bytes(data).find(b"\x00\x2b\x00\x02", pos)  # a ServerHello's supported_versions
        if found < 0:
            return _flip(rng, data)
        data[found + 4 : found + 6] = rng.choice(_VERSIONS).to_bytes(2, "big")
        return f"supported-version@{found}"
    return f"{what}@{pos}"


def _frame_op(rng: random.Random, data: bytearray, seeds: Sequence[Seed]) -> str:
    shape = layout(bytes(data))
    if shape is None or not shape.spans:
        return _delete(rng, data)
    spans = shape.spans
    head = bytes(data[: spans[0][0]])
    frames = [bytes(data[a:b]) for a, b in spans]
    tail = bytes(data[spans[-1][1] :])
    op = rng.choice(("duplicate", "duplicate", "delete", "swap", "move", "reverse-run", "splice"))
    i = rng.randrange(len(frames))
    if op == "duplicate":
        frames.insert(rng.randint(0, len(frames)), frames[i])
    elif op == "delete":
        del frames[i]
    elif op == "swap":
        j = rng.randrange(len(frames))
        frames[i], frames[j] = frames[j], frames[i]
    elif op == "move":
        frame = frames.pop(i)
        frames.insert(rng.randint(0, len(frames)), frame)
    elif op == "reverse-run":
        j = min(len(frames), i + rng.randint(2, 12))
        frames[i:j] = frames[i:j][::-1]
    else:
        other = rng.choice(seeds).data
        donor = layout(other)
        if donor is None or donor.kind != shape.kind or not donor.spans:
            return f"splice(none){_flip(rng, data)}"
        a, b = rng.choice(donor.spans)
        frames.insert(rng.randint(0, len(frames)), other[a:b])
    data[:] = head + b"".join(frames) + tail
    return f"frames:{op}@{i}"


def mutate(rng: random.Random, seed: Seed, seeds: Sequence[Seed]) -> tuple[bytes, list[str]]:
    """One case: the seed's bytes after one to three mutations, and what they were."""
    data = bytearray(seed.data)
    notes: list[str] = []
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped:
        with contextlib.suppress(OSError, EOFError):
            data = bytearray(gzip.decompress(bytes(data)))
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        kind = rng.choices(
            ("flip", "overwrite", "insert", "delete", "truncate", "capture-length", "tls-length", "der-length",
             "frames", "tls-field"),
            weights=(14, 12, 6, 6, 5, 14, 20, 10, 13, 10))[0]
        if kind == "flip":
            notes.append(_flip(rng, data))
        elif kind == "overwrite":
            notes.append(_overwrite(rng, data))
        elif kind == "insert":
            notes.append(_insert(rng, data))
        elif kind == "delete":
            notes.append(_delete(rng, data))
        elif kind == "truncate":
            notes.append(_truncate(rng, data))
        elif kind == "capture-length":
            shape = layout(bytes(data))
            notes.append(_inflate(rng, data, shape.fields if shape else []))
        elif kind == "tls-length":
            notes.append(_inflate(rng, data, tls_fields(bytes(data))))
        elif kind == "der-length":
            notes.append(_inflate(rng, data, der_fields(bytes(data))))
        elif kind == "tls-field":
            notes.append(_tls_field(rng, data))
        else:
            notes.append(_frame_op(rng, data, seeds))
    out = bytes(data)
    if gzipped or rng.random() < 0.04:
        out = gzip.compress(out, compresslevel=1)
        notes.append("gzip")
        if rng.random() < 0.3:
            cut = rng.randint(10, max(10, len(out)))
            out = out[:cut]
            notes.append(f"gzip-cut@{cut}")
    return out, notes


def make_case(seed_value: int, case: int, seeds: Sequence[Seed]) -> tuple[Seed, bytes, list[str]]:
    """Case `case` of the run seeded `seed_value`: deterministic, whatever ran before it. The first
    len(seeds) cases are the seeds themselves, unmutated."""
    if case < len(seeds):
        return seeds[case], seeds[case].data, ["unmutated"]
    rng = random.Random(f"tlscap-fuzz:{seed_value}:{case}")
    seed = rng.choice(seeds)
    data, notes = mutate(rng, seed, seeds)
    return seed, data, notes


# =========================================================================== the checks (in a worker)


class CaseTimeout(BaseException):
    """A case ran past its time limit. A BaseException, so tlscap's `except Exception` nets let it through."""


@dataclass(slots=True)
class Failure:
    kind: str  # exception | internal-error | decoder-error | certificate-fallback | bad-json | bad-utf8 | hang | ...
    signature: str  # what identifies the bug: kind, exception type, innermost tlscap function
    message: str
    traceback: str = ""


_LAST_ERROR: list[tuple[BaseException, str]] = []
_KEYLOGS: dict[str, Any] = {}


def _innermost(tb: str) -> str:
    """'tlscap/x/y.py:function' of the innermost tlscap frame of a formatted traceback."""
    frames = re.findall(r'File "([^"]*)", line \d+, in (\S+)', tb)
    for filename, function in reversed(frames):
        marker = filename.rfind("/tlscap/")
        if marker >= 0 and "/tests/" not in filename:
            return f"{filename[marker + 1 :]}:{function}"
    return f"{Path(frames[-1][0]).name}:{frames[-1][1]}" if frames else "?"


def _signature(kind: str, exc_type: str, tb: str) -> str:
    """What identifies a bug. A hang is named by its module only: the timer lands anywhere in the loop."""
    where = _innermost(tb)
    if kind in ("hang", "memory"):
        where = where.split(":")[0]
    return f"{kind}:{exc_type}@{where}"


def _install_probes() -> None:
    """Make the engine's safety nets tell what they caught: record the traceback of any exception that
    becomes an `internal-error`, and let the packet decoder's exceptions through to the engine."""
    from tlscap.analysis import engine
    from tlscap.decode.decoder import Decoder

    def recording(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                _LAST_ERROR.append((exc, traceback.format_exc()))
                raise
        wrapper.__wrapped__ = function  # type: ignore[attr-defined]
        return wrapper

    class StrictDecoder(Decoder):
        __slots__ = ()

        def decode(self, frame: Any) -> Any:
            try:
                return self._decode(frame)
            except Exception as exc:
                _LAST_ERROR.append((exc, "decoder: " + traceback.format_exc()))
                raise

    # The engine's internals change: patch what is there, and nothing is lost when a name moves
    # (an internal-error is still caught, only with less of a traceback).
    if getattr(engine, "Decoder", None) is Decoder:
        engine.Decoder = StrictDecoder  # type: ignore[misc]
    run = getattr(engine, "_Run", None)
    for name in ("on_segment", "take_embedded_secrets"):
        if run is not None and callable(getattr(run, name, None)):
            setattr(run, name, recording(getattr(run, name)))
    original_open = getattr(engine, "open_capture", None)
    if original_open is None:
        return

    def open_capture(path: Any) -> Any:
        reader = original_open(path)
        original_next = reader._frames

        def frames() -> Iterator[Any]:
            try:
                yield from original_next
            except Exception as exc:
                _LAST_ERROR.append((exc, traceback.format_exc()))
                raise
        reader._frames = frames()
        return reader

    engine.open_capture = open_capture  # type: ignore[assignment]


def check_file(path: str, keylog: str | None = None) -> Failure | None:
    """Analyze one capture and render every format; the first problem found, or None."""
    from tlscap.analysis.engine import AnalysisOptions, analyze_capture
    from tlscap.analysis.model import Report
    from tlscap.report.csv_report import render_csv
    from tlscap.report.html_report import render_html
    from tlscap.report.json_report import render_json, render_jsonl
    from tlscap.report.markdown_report import render_markdown
    from tlscap.report.text_report import render_text
    from tlscap.tls.keylog import load_keylog_file

    _LAST_ERROR.clear()
    try:
        options = AnalysisOptions()
        if keylog:
            if keylog not in _KEYLOGS:
                _KEYLOGS[keylog] = load_keylog_file(keylog)
            options = AnalysisOptions(keylog=_KEYLOGS[keylog])
        cap = analyze_capture(path, options)
        for error in cap.errors:
            if error.code == "internal-error":
                exc, tb = _LAST_ERROR[-1] if _LAST_ERROR else (None, "")
                kind = "decoder-error" if tb.startswith("decoder: ") else "internal-error"
                named = re.search(r"internal error \((\w+)", error.message)
                name = type(exc).__name__ if exc is not None else named.group(1) if named else "?"
                return Failure(kind, _signature(kind, name, tb), error.message, tb)
        for conn in cap.connections:
            for info in [*conn.client_certificates, *conn.server_certificates]:
                for cert in info.chain:
                    if cert.parse_error and cert.parse_error.startswith("unreadable certificate ("):
                        return Failure("certificate-fallback", f"certificate-fallback:{cert.parse_error[:60]}",
                                       cert.parse_error)
        report = Report(captures=[cap])
        text = render_json(report)
        try:
            document = json.loads(text)
        except ValueError as exc:
            return Failure("bad-json", f"bad-json:{type(exc).__name__}", str(exc))
        if not isinstance(document.get("captures"), list) or len(document["captures"]) != 1:
            return Failure("bad-json", "bad-json:shape", "no captures list")
        outputs = {"json": text}
        for number, line in enumerate(render_jsonl(report).splitlines(), 1):
            try:
                json.loads(line)
            except ValueError as exc:
                return Failure("bad-json", f"bad-jsonl:{type(exc).__name__}", f"line {number}: {exc}")
        outputs["text"] = render_text(report, show_all=True)
        outputs["html"] = render_html(report, show_all=True)
        outputs["csv"] = render_csv(report)
        outputs["md"] = render_markdown(report, show_all=True)
        for fmt, output in outputs.items():
            try:
                output.encode("utf-8")
            except UnicodeEncodeError as exc:
                return Failure("bad-utf8", f"bad-utf8:{fmt}", str(exc))
        return None
    except CaseTimeout:
        tb = traceback.format_exc()
        return Failure("hang", _signature("hang", "timeout", tb), "over the time limit", tb)
    except MemoryError:
        tb = traceback.format_exc()
        return Failure("memory", _signature("memory", "MemoryError", tb), "out of memory", tb)
    except Exception as exc:
        tb = traceback.format_exc()
        return Failure("exception", _signature("exception", type(exc).__name__, tb), f"{type(exc).__name__}: {exc}",
                       tb)


def _worker_folder(pid: int) -> str:
    """Where worker `pid` writes its case: in memory when /dev/shm exists; the parent removes it when it
    has to kill the worker."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(base, f"tlscap-fuzz-{pid}")


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout()


def _worker(pipe: Pipe, timeout: float, memory_mib: int) -> None:
    """Run cases sent over the pipe: (data, keylog) in, Failure | None out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError, OSError):
        limit = memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    _install_probes()
    folder = _worker_folder(os.getpid())
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "case.bin")
    try:
        while True:
            try:
                task = pipe.recv()
            except EOFError:
                return
            if task is None:
                return
            data, keylog = task
            with open(path, "wb") as handle:
                handle.write(data)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                result = check_file(path, keylog)
            except CaseTimeout:  # fired between the check and here
                result = Failure("hang", "hang:timeout@?", "over the time limit")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            pipe.send(result)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(folder)


# =========================================================================== the pool


@dataclass(slots=True)
class Task:
    case: int
    data: bytes
    keylog: str | None
    seed: str = ""
    notes: list[str] = field(default_factory=list)


class _Slot:
    __slots__ = ("process", "pipe", "task", "started")

    def __init__(self, process: multiprocessing.process.BaseProcess, pipe: Pipe) -> None:
        self.process = process
        self.pipe = pipe
        self.task: Task | None = None
        self.started = 0.0


class Pool:
    """Worker processes running one case each at a time; a worker past the hard limit is killed."""

    def __init__(self, jobs: int, timeout: float = DEFAULT_TIMEOUT, memory_mib: int = DEFAULT_MEMORY_MIB) -> None:
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.memory_mib = memory_mib
        self._context = multiprocessing.get_context("fork")
        self._slots: list[_Slot] = []

    def _start(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(child, self.timeout, self.memory_mib), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def __enter__(self) -> Pool:
        self._slots = [self._start() for _ in range(self.jobs)]
        return self

    def __exit__(self, *exc: object) -> None:
        for slot in self._slots:
            with contextlib.suppress(OSError, BrokenPipeError):
                slot.pipe.send(None)
        for slot in self._slots:
            slot.process.join(timeout=2)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            if slot.process.pid is not None:
                shutil.rmtree(_worker_folder(slot.process.pid), ignore_errors=True)
        self._slots = []

    def _restart(self, index: int) -> None:
        slot = self._slots[index]
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join()
        slot.pipe.close()
        if slot.process.pid is not None:
            shutil.rmtree(_worker_folder(slot.process.pid), ignore_errors=True)
        self._slots[index] = self._start()

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, Failure | None, float]]:
        """Yield (task, failure or None, seconds) for each task, in completion order."""
        pending = iter(tasks)
        exhausted = False
        while True:
            for slot in self._slots:
                if slot.task is None and not exhausted:
                    task = next(pending, None)
                    if task is None:
                        exhausted = True
                        break
                    slot.task, slot.started = task, time.monotonic()
                    slot.pipe.send((task.data, task.keylog))
            busy = [s for s in self._slots if s.task is not None]
            if not busy:
                return
            deadline = min(s.started for s in busy) + self.timeout + HARD_GRACE
            ready = wait_any([s.pipe for s in busy] + [s.process.sentinel for s in busy],
                             timeout=max(0.0, deadline - time.monotonic()))
            now = time.monotonic()
            for index, slot in enumerate(self._slots):
                task = slot.task
                if task is None:
                    continue
                if slot.pipe in ready:
                    try:
                        result = slot.pipe.recv()
                    except (EOFError, OSError):
                        result = Failure("crash", "crash:worker-died", f"worker died (exit {slot.process.exitcode})")
                        slot.task = None
                        self._restart(index)
                        yield task, result, now - slot.started
                        continue
                    slot.task = None
                    yield task, result, now - slot.started
                elif slot.process.sentinel in ready or not slot.process.is_alive():
                    code = slot.process.exitcode
                    slot.task = None
                    self._restart(index)
                    yield task, Failure("crash", "crash:worker-died", f"worker died (exit {code})"), now - slot.started
                elif now - slot.started > self.timeout + HARD_GRACE:
                    slot.task = None
                    self._restart(index)
                    yield task, Failure("hang", "hang:killed", "no answer: the worker was killed"), now - slot.started

    def check(self, data: bytes, keylog: str | None) -> Failure | None:
        for _task, result, _seconds in self.run([Task(-1, data, keylog)]):
            return result
        return None


# =========================================================================== minimizing


def _ddmin(items: list[bytes], first_failing: Callable[[list[list[bytes]]], int | None],
           budget: list[int], batch: int) -> list[bytes]:
    """Zeller's delta debugging: a smaller list of pieces that still fails (1-minimal if the budget allows).
    `first_failing` tries candidates (in parallel) and returns the index of the first that fails."""
    granularity = 2
    while len(items) >= 2 and budget[0] > 0:
        size = max(1, len(items) // granularity)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        reduced = False
        for start in range(0, len(chunks), batch):
            if budget[0] <= 0:
                break
            candidates = [[piece for j, chunk in enumerate(chunks) if j != index for piece in chunk]
                          for index in range(start, min(start + batch, len(chunks)))]
            budget[0] -= len(candidates)
            found = first_failing(candidates)
            if found is not None:
                items = candidates[found]
                granularity = max(granularity - 1, 2)
                reduced = True
                break
        if not reduced:
            if granularity >= len(items):
                break
            granularity = min(len(items), granularity * 2)
    return items


def minimize(pool: Pool, data: bytes, keylog: str | None, signature: str, *, max_tests: int = 3000,
             max_seconds: float = 300.0) -> bytes:
    """The smallest input found that fails with the same signature: whole frames first, then bytes."""
    started = time.monotonic()
    budget = [max_tests]

    def first_failing(candidates: list[bytes]) -> int | None:
        if time.monotonic() - started > max_seconds:
            budget[0] = 0
            return None
        tasks = [Task(index, candidate, keylog) for index, candidate in enumerate(candidates)]
        hits = [task.case for task, result, _ in pool.run(tasks)
                if result is not None and result.signature == signature]
        return min(hits) if hits else None

    if data[:2] == b"\x1f\x8b":  # try the decompressed capture first: easier to read and to shrink
        with contextlib.suppress(OSError, EOFError):
            plain = gzip.decompress(data)
            if first_failing([plain]) is not None:
                data = plain
    shape = layout(data)
    if shape is not None and len(shape.spans) > 1:
        head = data[: shape.spans[0][0]]
        tail = data[shape.spans[-1][1] :]
        frames = [data[a:b] for a, b in shape.spans]
        keep_first = shape.kind == "pcapng"  # the SHB (and usually the IDB) must stay in front
        first, rest = (frames[:1], frames[1:]) if keep_first else ([], frames)
        rest = _ddmin(rest, lambda groups: first_failing([head + b"".join(first + g) + tail for g in groups]),
                      budget, pool.jobs)
        data = head + b"".join(first + rest) + tail
    data = _shrink_packets(data, first_failing, budget, pool.jobs)
    for piece in (64, 8, 1):
        if budget[0] <= 0 or len(data) // piece > 20000:
            continue
        chunks = [data[i : i + piece] for i in range(0, len(data), piece)]
        data = b"".join(_ddmin(chunks, lambda groups: first_failing([b"".join(g) for g in groups]), budget,
                               pool.jobs))
    return data


def _packets(data: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes, str] | None:
    """A pcap as (file header, [(record header, packet)], trailing bytes, byte order); None otherwise."""
    shape = layout(data)
    if shape is None or shape.kind != "pcap" or not shape.spans:
        return None
    order, hsize = _PCAP_MAGICS[data[:4]]
    records = [(data[a : a + hsize], data[a + hsize : b]) for a, b in shape.spans]
    return data[:24], records, data[shape.spans[-1][1] :], order


def _rebuild(head: bytes, records: list[tuple[bytes, bytes]], tail: bytes, order: str) -> bytes:
    """The pcap again, each record header's lengths (and an Ethernet/IPv4 total length) fixed to its packet."""
    out = [head]
    for header, packet in records:
        fixed = bytearray(header)
        struct.pack_into(order + "II", fixed, 8, len(packet), len(packet))
        if len(packet) >= 34 and packet[12:14] == b"\x08\x00" and packet[14] >> 4 == 4:
            packet = packet[:16] + struct.pack(">H", len(packet) - 14) + packet[18:]
        out += [bytes(fixed), packet]
    return b"".join(out) + tail


def _shrink_packets(data: bytes, first_failing: Callable[[list[bytes]], int | None], budget: list[int],
                    batch: int) -> bytes:
    """Delta debugging over the bytes of each packet, its record header and IPv4 length kept consistent:
    what byte-level minimizing cannot do without breaking the file's framing."""
    parsed = _packets(data)
    if parsed is None:
        return data
    head, records, tail, order = parsed
    for index in range(len(records)):
        if budget[0] <= 0:
            break
        header, packet = records[index]
        for piece in (64, 8, 1):
            chunks = [packet[i : i + piece] for i in range(0, len(packet), piece)]

            def attempt(groups: list[list[bytes]], index: int = index, header: bytes = header) -> int | None:
                return first_failing([_rebuild(head, records[:index] + [(header, b"".join(g))] + records[index + 1 :],
                                               tail, order) for g in groups])
            packet = b"".join(_ddmin(chunks, attempt, budget, batch))
        records[index] = (header, packet)
    return _rebuild(head, records, tail, order)


# =========================================================================== the run


def known_failures(folder: Path = FUZZ_DIR) -> dict[str, dict[str, Any]]:
    """Recorded failures still open (so expected), by signature."""
    out: dict[str, dict[str, Any]] = {}
    for note in sorted(folder.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            record = json.loads(note.read_text())
            if record.get("status") == "open":
                out[record["signature"]] = record
    return out


@dataclass(slots=True)
class Summary:
    cases: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: int = 0
    new: dict[str, tuple[Task, Failure]] = field(default_factory=dict)
    known: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.cases} cases in {self.seconds:.0f} s ({self.cases / max(self.seconds, 1e-9):.0f}/s), "
               f"slowest {self.slowest:.2f} s; {self.failures} failing cases: {len(self.new)} new signatures, "
               f"{sum(self.known.values())} hits of {len(self.known)} known open ones"]
        for signature, (task, failure) in self.new.items():
            out.append(f"  NEW {signature}: case {task.case} ({task.seed}; {', '.join(task.notes)}): {failure.message}")
        for signature, count in self.known.items():
            out.append(f"  known {signature}: {count} cases")
        out += [f"  wrote {path}" for path in self.written]
        return out


def write_failure(task: Task, failure: Failure, data: bytes, seed_value: int, folder: Path = FUZZ_DIR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = folder / f"{digest}.bin"
    path.write_bytes(data)
    note = {
        "signature": failure.signature, "kind": failure.kind, "message": failure.message,
        "traceback": failure.traceback, "seed_file": task.seed, "keylog": _relative(task.keylog),
        "case": task.case, "run_seed": seed_value, "mutations": task.notes, "size": len(data),
        "found": time.strftime("%Y-%m-%d"), "status": "open", "xfail": None,
    }
    path.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n")
    return path


def _relative(path: str | None) -> str | None:
    if path is None:
        return None
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(ROOT.parent.resolve()))
    return path


def fuzz(*, cases: int, seconds: float | None = None, seed: int = 1, jobs: int | None = None,
         max_size: int = DEFAULT_MAX_SIZE, timeout: float = DEFAULT_TIMEOUT, memory_mib: int = DEFAULT_MEMORY_MIB,
         minimize_new: bool = True, write: bool = True, folder: Path = FUZZ_DIR,
         progress: Callable[[str], None] | None = None) -> Summary:
    """Run `cases` cases (or until `seconds` pass); see the module docstring."""
    seeds = load_seeds(max_size)
    if not seeds:
        raise SystemExit("no seed captures found (is ../shared/corpus there?)")
    known = known_failures(folder)
    summary = Summary()
    started = time.monotonic()
    last_report = started

    def tasks() -> Iterator[Task]:
        for case in range(cases):
            if seconds is not None and time.monotonic() - started > seconds:
                return
            chosen, data, notes = make_case(seed, case, seeds)
            yield Task(case, data, chosen.keylog, chosen.name, notes)

    with Pool(jobs or os.cpu_count() or 1, timeout, memory_mib) as pool:
        for task, failure, spent in pool.run(tasks()):
            summary.cases += 1
            summary.slowest = max(summary.slowest, spent)
            if failure is not None:
                summary.failures += 1
                if failure.signature in known:
                    summary.known[failure.signature] = summary.known.get(failure.signature, 0) + 1
                elif failure.signature not in summary.new:
                    summary.new[failure.signature] = (task, failure)
                    if progress:
                        progress(f"case {task.case}: NEW {failure.signature} ({task.seed}; {', '.join(task.notes)})")
            now = time.monotonic()
            if progress and now - last_report > 30:
                last_report = now
                progress(f"{summary.cases} cases, {summary.failures} failing, {len(summary.new)} new signatures, "
                         f"{summary.cases / (now - started):.0f}/s")
        summary.seconds = time.monotonic() - started
    if write:
        for signature, (task, failure) in summary.new.items():
            data = task.data
            if minimize_new and failure.kind != "crash":
                if progress:
                    progress(f"minimizing {signature} ({len(data)} bytes)")
                # A hang is an endless loop: a short limit tells it as well, and minimizing goes faster.
                limit = min(timeout, MINIMIZE_HANG_TIMEOUT) if failure.kind == "hang" else timeout
                with Pool(jobs or os.cpu_count() or 1, limit, memory_mib) as small:
                    data = minimize(small, data, task.keylog, signature)
                    confirm = small.check(data, task.keylog)
                if confirm is not None and confirm.signature == signature:
                    failure = confirm
                else:
                    data = task.data
                if progress:
                    progress(f"minimized {signature} to {len(data)} bytes")
            summary.written.append(str(write_failure(task, failure, data, seed, folder)))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases to run (default 2000)")
    parser.add_argument("--seconds", type=float, help="stop starting cases after this long")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed of the run (default 1)")
    parser.add_argument("--jobs", type=int, help="worker processes (default: the number of cores)")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, help="largest seed file, bytes")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case")
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MIB, help="MiB of address space per worker")
    parser.add_argument("--no-minimize", action="store_true", help="write new failures as found")
    parser.add_argument("--no-write", action="store_true", help="do not write tests/fuzz/ files")
    parser.add_argument("--out", type=Path, default=FUZZ_DIR, help="folder for failures (default tests/fuzz)")
    parser.add_argument("--case", type=int, help="replay this case only: print its mutations, run it")
    parser.add_argument("--write", type=Path, help="with --case: write the case's bytes here")
    parser.add_argument("--check", type=Path, help="run the checks on this file, in this process")
    parser.add_argument("--keylog", help="with --check: the key log to use")
    args = parser.parse_args(argv)

    if args.check is not None:
        _install_probes()
        failure = check_file(str(args.check), args.keylog)
        print("ok" if failure is None else f"{failure.signature}: {failure.message}\n{failure.traceback}")
        return 0 if failure is None else 1
    if args.case is not None:
        seeds = load_seeds(args.max_size)
        chosen, data, notes = make_case(args.seed, args.case, seeds)
        print(f"case {args.case}: {chosen.name} (keylog {chosen.keylog}); {', '.join(notes)}; {len(data)} bytes")
        if args.write:
            args.write.write_bytes(data)
        with Pool(1, args.timeout, args.memory) as pool:
            failure = pool.check(data, chosen.keylog)
        print("ok" if failure is None else f"{failure.signature}: {failure.message}\n{failure.traceback}")
        return 0 if failure is None else 1

    summary = fuzz(cases=args.cases, seconds=args.seconds, seed=args.seed, jobs=args.jobs, max_size=args.max_size,
                   timeout=args.timeout, memory_mib=args.memory, minimize_new=not args.no_minimize,
                   write=not args.no_write, folder=args.out,
                   progress=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(summary.lines()))
    return 1 if summary.new else 0


if __name__ == "__main__":
    sys.exit(main())
