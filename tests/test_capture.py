"""Capture-file readers: pcap and pcapng (plain or gzip), damage handling, and the public corpus."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import re
import subprocess
import zlib
from pathlib import Path

import pytest
from corpus_facts import CORPUS, corpus_folder
from helpers_capture import (
    PCAP_MAGIC_MODIFIED,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    PcapPacket,
    block,
    dsb,
    epb,
    idb,
    opb,
    pcap_file,
    shb,
    spb,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlscap.capture.frame import Frame
from tlscap.capture.linktypes import link_type_name, link_type_title
from tlscap.capture.reader import CaptureInfo, open_capture
from tlscap.errors import CaptureOpenError

NS = 1_000_000_000
KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"


def read_all(path: Path) -> tuple[list[Frame], CaptureInfo]:
    with open_capture(path) as reader:
        frames = list(reader)
        return frames, reader.info


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- pcap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize(
    ("magic", "unit"), [(PCAP_MAGIC_US, 1000), (PCAP_MAGIC_NS, 1), (PCAP_MAGIC_MODIFIED, 1000)]
)
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, order: str, magic: int, unit: int) -> None:
    packets: list[PcapPacket] = [
        (1_700_000_000, 123456, b"\x01" * 60),
        (1_700_000_001, 7, b"\x02" * 20, 1500),
    ]
    path = write(
        tmp_path, "x.cap", pcap_file(packets, order=order, magic=magic, link_type=113, snaplen=20000)
    )
    frames, info = read_all(path)
    assert [f.number for f in frames] == [1, 2]
    assert frames[0].timestamp_ns == 1_700_000_000 * NS + 123456 * unit
    assert frames[1].timestamp_ns == 1_700_000_001 * NS + 7 * unit
    assert frames[0].data == b"\x01" * 60 and frames[0].original_length == 60 and not frames[0].truncated
    assert frames[1].original_length == 1500 and frames[1].truncated
    assert all(f.link_type == 113 and f.interface == 0 for f in frames)
    assert (info.format, info.gzip, info.frames) == ("pcap", False, 2)
    assert info.link_types == ["LINUX_SLL"] and info.snaplens == [20000] and info.snaplen == 20000
    assert (info.first_time_ns, info.last_time_ns) == (frames[0].timestamp_ns, frames[1].timestamp_ns)
    assert info.issues == []


def test_frames_are_ordinary_frozen_frames(tmp_path: Path) -> None:
    frames, _ = read_all(write(tmp_path, "x.pcap", pcap_file([(3, 4, b"abc", 9)], link_type=228)))
    expected = Frame(number=1, timestamp_ns=3 * NS + 4000, link_type=228, data=b"abc", original_length=9)
    assert frames == [expected] and hash(frames[0]) == hash(expected) and repr(frames[0]) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frames[0].number = 2  # type: ignore[misc]


def test_pcap_first_and_last_time_are_earliest_and_latest(tmp_path: Path) -> None:
    path = write(tmp_path, "x.pcap", pcap_file([(20, 0, b"a"), (10, 5, b"b"), (30, 1, b"c"), (25, 0, b"d")]))
    frames, info = read_all(path)
    assert [f.timestamp_ns for f in frames] == [20 * NS, 10 * NS + 5000, 30 * NS + 1000, 25 * NS]
    assert (info.first_time_ns, info.last_time_ns) == (10 * NS + 5000, 30 * NS + 1000)


def test_pcap_old_bsd_raw_link_type_is_normalised(tmp_path: Path) -> None:
    frames, info = read_all(write(tmp_path, "x.pcap", pcap_file([(1, 0, b"\x45")], link_type=12)))
    assert frames[0].link_type == 101 and info.link_types == ["RAW"]


def test_pcap_without_packets(tmp_path: Path) -> None:
    frames, info = read_all(write(tmp_path, "x.pcap", pcap_file([])))
    assert frames == [] and info.frames == 0 and info.first_time_ns is None and info.last_time_ns is None
    assert info.link_types == ["ETHERNET"] and info.issues == []


def test_info_is_updated_while_reading(tmp_path: Path) -> None:
    path = write(tmp_path, "x.pcap", pcap_file([(i, 0, b"p") for i in range(1, 6)]))
    with open_capture(path) as reader:
        assert reader.info.frames == 0
        next(iter(reader))
        next(reader)
        assert reader.info.frames == 2 and reader.info.last_time_ns == 2 * NS


# --- pcapng -------------------------------------------------------------------------------------


def two_section_pcapng() -> bytes:
    """Section 1 (LE): Ethernet ns + SLL2 at 2^-10 s with offset; section 2 (BE): raw IP via SPB."""
    return b"".join(
        [
            shb("<", comment="CLIENT_RANDOM 00 11"),
            idb(1, snaplen=262144, tsresol=9),
            idb(276, tsresol=0x80 | 10, tsoffset=100),
            epb(0, 1_600_000_000 * NS + 5, b"eth-frame", comment="first packet"),
            dsb(KEYLOG),
            epb(1, (1_600_000_000 << 10) + 512, b"sll2-frame", original=4000),
            block(5, b"\0" * 20),  # Interface Statistics Block: skipped
            block(0x00000BAD, b"\0\0\0\x01custom"),  # custom block: no packet, but a frame number
            opb(0, 1_600_000_002 * NS, b"obsolete"),
            shb(">"),
            idb(101, snaplen=4, order=">"),
            spb(b"\x45\x00\x00\x14\x00\x00", order=">"),
            epb(0, 1_500_000_000 * 1_000_000, b"\x45abc", order=">"),
            dsb(b"ignored", secrets_type=0x57474B4C, order=">"),  # WireGuard keys: not kept
        ]
    )


def test_pcapng_sections_interfaces_and_blocks(tmp_path: Path) -> None:
    frames, info = read_all(write(tmp_path, "x.bin", two_section_pcapng()))
    assert [f.number for f in frames] == [1, 2, 4, 5, 6]  # the custom block is frame 3, as in Wireshark
    assert [f.link_type for f in frames] == [1, 276, 1, 101, 101]
    assert [f.interface for f in frames] == [0, 1, 0, 2, 2]
    assert [f.data for f in frames] == [
        b"eth-frame",
        b"sll2-frame",
        b"obsolete",
        b"\x45\x00\x00\x14",
        b"\x45abc",
    ]
    assert [f.original_length for f in frames] == [9, 4000, 8, 6, 4]
    assert frames[0].timestamp_ns == 1_600_000_000 * NS + 5
    assert frames[1].timestamp_ns == (1_600_000_000 + 100) * NS + NS // 2  # 2^-10 ticks, +100 s offset
    assert frames[2].timestamp_ns == 1_600_000_002 * NS
    assert frames[3].timestamp_ns == frames[2].timestamp_ns  # an SPB has no time of its own
    assert frames[4].timestamp_ns == 1_500_000_000 * NS  # default resolution: µs
    assert (info.format, info.frames) == ("pcapng", 6)
    assert info.link_types == ["ETHERNET", "LINUX_SLL2", "RAW"]
    assert info.link_type_numbers == [1, 276, 101]
    assert info.snaplens == [262144, 0, 4]
    assert info.first_time_ns == 1_500_000_000 * NS
    assert info.last_time_ns == (1_600_000_000 + 100) * NS + NS // 2
    assert info.secrets == [KEYLOG]
    assert info.comments == ["CLIENT_RANDOM 00 11", "first packet"]
    assert info.issues == []


def test_custom_blocks_take_frame_numbers_as_in_tshark(tmp_path: Path) -> None:
    """tshark 4.0 lists each pcapng Custom Block (copiable or not) as a frame; the packets after one keep
    Wireshark's numbers."""
    eth = bytes(12) + b"\x08\x00" + bytes(20)
    data = (shb() + idb(1) + epb(0, 1, eth) + block(0x00000BAD, b"\0\0\0\x01one") + epb(0, 2, eth)
            + block(0x40000BAD, b"\0\0\0\x01two") + epb(0, 3, eth))
    path = write(tmp_path, "custom.pcapng", data)
    frames, info = read_all(path)
    assert [f.number for f in frames] == [1, 3, 5] and info.frames == 5
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.protocols"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert [line.split("\t")[0] for line in out if line.endswith("ip")] == ["1", "3", "5"]


def test_pcapng_power_of_two_resolution_floors_like_wireshark(tmp_path: Path) -> None:
    data = shb() + idb(1, tsresol=0x80 | 10) + epb(0, 1, b"x") + epb(0, 1023, b"y")
    frames, _ = read_all(write(tmp_path, "x.pcapng", data))
    assert [f.timestamp_ns for f in frames] == [976562, 999023437]  # 10^9 / 1024 = 976562.5


def test_pcapng_packet_of_undescribed_interface(tmp_path: Path) -> None:
    data = shb() + idb(1) + epb(3, 1, b"a") + epb(0, 2, b"b") + epb(7, 3, b"c")
    frames, info = read_all(write(tmp_path, "x.pcapng", data))
    assert [f.link_type for f in frames] == [-1, 1, -1]
    assert [i.code for i in info.issues] == ["unknown-interface"]
    assert info.issues[0].frame == 1


def test_pcapng_simple_packet_block_is_cut_to_interface_snaplen(tmp_path: Path) -> None:
    data = shb() + idb(1, snaplen=3) + spb(b"abcdef", original=1000)
    frames, _ = read_all(write(tmp_path, "x.pcapng", data))
    assert frames[0].data == b"abc" and frames[0].original_length == 1000 and frames[0].timestamp_ns == 0


def test_pcapng_systemd_journal_block_takes_a_frame_number(tmp_path: Path) -> None:
    data = shb() + idb(1) + epb(0, 1, b"a") + block(9, b"__REALTIME_TIMESTAMP=1\n") + epb(0, 2, b"b")
    frames, info = read_all(write(tmp_path, "x.pcapng", data))
    assert [f.number for f in frames] == [1, 3] and info.frames == 3


# --- gzip ---------------------------------------------------------------------------------------


def test_gzip_pcap(tmp_path: Path) -> None:
    raw = pcap_file([(i, i, bytes([i % 256]) * 100) for i in range(1, 2001)])
    frames, info = read_all(write(tmp_path, "x.pcap.gz", gzip.compress(raw)))
    assert len(frames) == 2000 and info.gzip and info.format == "pcap" and info.issues == []
    assert frames[-1].data == bytes([2000 % 256]) * 100


def test_gzip_pcapng(tmp_path: Path) -> None:
    frames, info = read_all(write(tmp_path, "x.gz", gzip.compress(two_section_pcapng())))
    assert len(frames) == 5 and info.gzip and info.format == "pcapng" and info.secrets == [KEYLOG]


def test_gzip_cut_stream_gives_frames_then_bad_gzip(tmp_path: Path) -> None:
    rng = random.Random(1)  # incompressible, yet the same bytes every run
    raw = pcap_file([(i, 0, rng.randbytes(200)) for i in range(1, 3001)])
    packed = gzip.compress(raw)
    cut = packed[: len(packed) // 2]
    readable = (len(zlib.decompressobj(31).decompress(cut)) - 24) // (16 + 200)
    frames, info = read_all(write(tmp_path, "x.pcap.gz", cut))
    assert 0 < len(frames) == readable  # nothing decompressed before the cut is lost
    assert [f.number for f in frames] == list(range(1, len(frames) + 1))
    assert [i.code for i in info.issues] == ["bad-gzip"]


def test_gzip_missing_trailer_only(tmp_path: Path) -> None:
    packed = gzip.compress(pcap_file([(1, 0, b"a" * 50), (2, 0, b"b" * 50)]))
    frames, info = read_all(write(tmp_path, "x.pcap.gz", packed[:-8]))
    assert len(frames) == 2 and [i.code for i in info.issues] == ["bad-gzip"]


def test_gzip_corrupted_data_mid_stream(tmp_path: Path) -> None:
    rng = random.Random(2)
    raw = pcap_file([(i, 0, rng.randbytes(300)) for i in range(1, 2001)])
    packed = bytearray(gzip.compress(raw))
    middle = len(packed) // 2
    packed[middle : middle + 64] = b"\xff" * 64
    frames, info = read_all(write(tmp_path, "x.pcap.gz", bytes(packed)))
    assert 0 < len(frames) < 2000
    # Damaged deflate data may still inflate, to garbage the pcap walk rejects first: one issue either way.
    assert len(info.issues) == 1 and info.issues[0].code in {"bad-gzip", "bad-block"}


def test_gzip_bad_crc(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(pcap_file([(1, 0, b"a" * 50)])))
    packed[-6] ^= 1
    frames, info = read_all(write(tmp_path, "x.pcap.gz", bytes(packed)))
    assert len(frames) == 1 and [i.code for i in info.issues] == ["bad-gzip"]


def test_gzip_of_garbage_is_an_open_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureOpenError, match="corrupt gzip data"):
        open_capture(write(tmp_path, "x.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40))
    with pytest.raises(CaptureOpenError, match="gzip-compressed, but not a pcap"):
        open_capture(write(tmp_path, "y.gz", gzip.compress(b"hello world, not a capture")))


# --- damaged files ------------------------------------------------------------------------------


def test_pcap_cut_inside_last_record(tmp_path: Path) -> None:
    raw = pcap_file([(1, 0, b"a" * 100), (2, 0, b"b" * 100), (3, 0, b"c" * 100)])
    frames, info = read_all(write(tmp_path, "x.pcap", raw[:-10]))
    assert [f.data for f in frames] == [b"a" * 100, b"b" * 100]
    assert [i.code for i in info.issues] == ["truncated-file"] and info.frames == 2


def test_pcap_cut_inside_record_header(tmp_path: Path) -> None:
    raw = pcap_file([(1, 0, b"a" * 100), (2, 0, b"b" * 100)])
    frames, info = read_all(write(tmp_path, "x.pcap", raw[: 24 + 116 + 7]))
    assert len(frames) == 1 and [i.code for i in info.issues] == ["truncated-file"]


def test_pcap_absurd_record_length_is_a_bad_block(tmp_path: Path) -> None:
    raw = pcap_file([(1, 0, b"a" * 10)]) + b"\0" * 8 + (5_000_000).to_bytes(4, "little") * 2 + b"x" * 64
    frames, info = read_all(write(tmp_path, "x.pcap", raw))
    assert len(frames) == 1 and [i.code for i in info.issues] == ["bad-block"]


def test_pcapng_cut_inside_last_block(tmp_path: Path) -> None:
    raw = shb() + idb(1) + epb(0, 1, b"a" * 40) + epb(0, 2, b"b" * 40)
    frames, info = read_all(write(tmp_path, "x.pcapng", raw[:-5]))
    assert len(frames) == 1 and [i.code for i in info.issues] == ["truncated-file"]


@pytest.mark.parametrize(
    "tail",
    [
        (6).to_bytes(4, "little") + (300 << 20).to_bytes(4, "little") + b"\0" * 40,  # > 256 MiB
        (6).to_bytes(4, "little") + (33).to_bytes(4, "little") + b"\0" * 40,  # not a multiple of 4
        shb()[:8] + b"\x01\x02\x03\x04" + b"\0" * 40,  # section header with a bad byte-order magic
        epb(0, 3, b"c")[:-4] + (99).to_bytes(4, "little"),  # trailing length differs
        (6).to_bytes(4, "little")
        + (16).to_bytes(4, "little")
        + b"\0" * 4
        + (16).to_bytes(4, "little"),  # short EPB
        epb(0, 3, b"c" * 8)[:20] + (1000).to_bytes(4, "little") + epb(0, 3, b"c" * 8)[24:],  # caplen > block
    ],
)
def test_pcapng_bad_block_mid_file(tmp_path: Path, tail: bytes) -> None:
    raw = shb() + idb(1) + epb(0, 1, b"a") + epb(0, 2, b"b") + tail
    frames, info = read_all(write(tmp_path, "x.pcapng", raw))
    assert len(frames) == 2 and [i.code for i in info.issues] == ["bad-block"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_never_raise(tmp_path: Path, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from([two_section_pcapng(), pcap_file([(1, 2, b"abc" * 30)] * 4)]))
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(12, len(raw)))]
    for packed in (bytes(raw), gzip.compress(bytes(raw))[: data.draw(st.integers(20, 400))]):
        path = write(tmp_path, "fuzz.bin", packed)
        try:
            reader = open_capture(path)
        except CaptureOpenError:
            continue
        with reader:
            frames = list(reader)
        assert reader.info.frames >= len(frames)
        stops = [i for i in reader.info.issues if i.code in {"truncated-file", "bad-block", "bad-gzip"}]
        assert len(stops) <= 1


# --- files that cannot be opened ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a pcap or pcapng capture (starts with 'GET / HT')"),
        (
            b"\x7fELF\x02\x01\x01\x00\x00",
            "not a pcap or pcapng capture (starts with 7f 45 4c 46 02 01 01 00)",
        ),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "pcap file header cut short (6 of 24 bytes)"),
        (
            b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\xff\xff\xff\xff",
            "not a pcapng capture (bad byte-order magic in the section header)",
        ),
    ],
)
def test_open_errors_for_content(tmp_path: Path, content: bytes, reason: str) -> None:
    path = write(tmp_path, "bad.pcap", content)
    with pytest.raises(CaptureOpenError) as caught:
        open_capture(path)
    assert caught.value.reason == reason and caught.value.path == str(path)
    assert "\n" not in str(caught.value)


def test_open_errors_for_paths(tmp_path: Path) -> None:
    with pytest.raises(CaptureOpenError) as missing:
        open_capture(tmp_path / "nope.pcap")
    assert missing.value.reason == "no such file"
    with pytest.raises(CaptureOpenError) as directory:
        open_capture(tmp_path)
    assert directory.value.reason == "is a directory"


def test_open_error_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "x.pcap", pcap_file([]))
    path.chmod(0)
    if os.geteuid() == 0:  # root reads any file: make open() answer as it would for anyone else
        real_open = open

        def denying_open(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            if str(name) == str(path):
                raise PermissionError(13, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr("builtins.open", denying_open)
    with pytest.raises(CaptureOpenError) as caught:
        open_capture(path)
    assert caught.value.reason == "permission denied"


def test_context_manager_and_exhaustion_close_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x.pcap", pcap_file([(1, 0, b"a"), (2, 0, b"b")]))
    fd_dir = Path("/proc/self/fd")

    def open_files() -> int:
        return sum(1 for fd in fd_dir.iterdir() if os.path.realpath(fd) == str(path))

    with open_capture(path) as reader:
        next(reader)
        assert open_files() == 1
    assert open_files() == 0
    reader = open_capture(path)
    assert len(list(reader)) == 2 and open_files() == 0


def test_link_type_names_and_titles() -> None:
    names = {
        0: "NULL",
        1: "ETHERNET",
        9: "PPP",
        12: "RAW",
        14: "RAW",
        50: "PPP_HDLC",
        101: "RAW",
        108: "LOOP",
        113: "LINUX_SLL",
        228: "IPV4",
        229: "IPV6",
        276: "LINUX_SLL2",
        147: "USER0",
        4242: "LINKTYPE_4242",
    }
    assert {n: link_type_name(n) for n in names} == names
    assert link_type_title(1) == "Ethernet" and link_type_title(113) == "Linux cooked (SLL)"
    assert link_type_title(276) == "Linux cooked v2 (SLL2)" and link_type_title(101) == "raw IP"
    assert link_type_title(0) == "BSD loopback (NULL)" and link_type_title(4242) == "LINKTYPE_4242"


# --- public corpus ------------------------------------------------------------------------------

CORPUS_FILES = sorted(p for p in corpus_folder("files").glob("*/*") if p.name.endswith((".pcap", ".pcapng", ".gz")))
DAMAGED = {"tls_DER-incomplete-header.pcap", "tls_DER-incomplete-content.pcap"}
# capinfos' link_type_short for single-encapsulation files -> the names tlscap may report
CAPINFOS_LINK = {
    "ether": {"ETHERNET"},
    "linux-sll": {"LINUX_SLL"},
    "linux-sll2": {"LINUX_SLL2"},
    "null": {"NULL", "LOOP"},
    "rawip": {"RAW", "IPV4", "IPV6"},
}


def truth_for(path: Path) -> dict:
    return json.loads((CORPUS / "truth" / f"{path.parent.name}__{path.name}.json").read_text())


def capinfos_time(text: str) -> tuple[int, int]:
    """capinfos' 'YYYY-MM-DD HH:MM:SS.frac' (UTC; the year may pass 9999) -> (units since epoch, digits)."""
    match = re.fullmatch(r"(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)", text)
    assert match, text
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7)
    # days from civil (H. Hinnant), valid for any Gregorian year
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    return seconds * 10 ** len(fraction) + int(fraction), len(fraction)


def capinfos_start_stop(times: list[int]) -> tuple[int, int]:
    """capinfos 4.0's start/stop: min/max by nstime_cmp, which casts the seconds difference to a C int."""

    def cmp(a: int, b: int) -> int:
        if a // NS == b // NS:
            return a % NS - b % NS
        diff = (a // NS - b // NS) & 0xFFFFFFFF
        return diff - (1 << 32) if diff & 0x80000000 else diff

    start = stop = times[0]
    for t in times[1:]:
        if cmp(t, start) < 0:
            start = t
        if cmp(t, stop) > 0:
            stop = t
    return start, stop


@pytest.mark.usefixtures("tshark_and_corpus")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_matches_capinfos(path: Path) -> None:
    capinfos = truth_for(path)["capinfos"]
    frames, info = read_all(path)
    assert info.frames == len(frames) == capinfos["packets"]
    assert [f.number for f in frames] == list(range(1, len(frames) + 1))
    assert info.gzip == path.name.endswith(".gz")
    assert info.format == ("pcapng" if capinfos["file_type"].startswith("pcapng") else "pcap")
    if capinfos["link_type_short"] in CAPINFOS_LINK:
        assert set(info.link_types) <= CAPINFOS_LINK[capinfos["link_type_short"]]
    if path.name in DAMAGED:  # tshark too reads 6 packets, then calls the file damaged
        assert [i.code for i in info.issues] == ["bad-block"]
        return
    assert info.issues == []
    start, stop = capinfos_start_stop([f.timestamp_ns for f in frames])
    for ours, theirs in ((start, capinfos["first_packet_time"]), (stop, capinfos["last_packet_time"])):
        units, digits = capinfos_time(theirs)
        assert ours // 10 ** (9 - digits) == units
    seconds = [f.timestamp_ns // NS for f in frames]
    if max(seconds) - min(seconds) < 1 << 31:  # where capinfos' overflow cannot bite, it is min and max
        assert (info.first_time_ns, info.last_time_ns) == (start, stop)


@pytest.mark.usefixtures("tshark_and_corpus")
@pytest.mark.parametrize(
    "name",
    [
        "PcapPlusPlus/pcapng-example.pcapng",
        "zeek/tls-fragmented-handshake.pcap.gz",
        "nDPI/tls_1.3_unidirectional_client.pcapng",
    ],
)
def test_corpus_frames_match_tshark(name: str) -> None:
    path = CORPUS / "files" / name
    fields = ["frame.number", "frame.time_epoch", "frame.cap_len", "frame.len", "frame.interface_id"]
    command = ["tshark", "-r", str(path), "-T", "fields"] + [arg for f in fields for arg in ("-e", f)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    expected = []
    for line in out.splitlines():
        number, epoch, caplen, length, iface = line.split("\t")
        seconds, _, fraction = epoch.partition(".")
        expected.append(
            (
                int(number),
                int(seconds) * NS + int(fraction.ljust(9, "0")[:9]),
                int(caplen),
                int(length),
                int(iface or 0),
            )
        )
    frames, _ = read_all(path)
    assert [
        (f.number, f.timestamp_ns, len(f.data), f.original_length, f.interface) for f in frames
    ] == expected
