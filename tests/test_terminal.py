"""The scan's progress bar and the report on one terminal: no bar fragment is ever glued
into a report line. Run on a pseudo-terminal 120 columns wide, with stdout and stderr both on it; the
screen is rebuilt from what was written (carriage returns overwrite the line)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAR_MARK = " files, "  # the bar's postfix: "3/26 files, 4 connections, 5 findings"


def screen_lines(raw: str) -> list[str]:
    """The lines a terminal shows for `raw`: `\\r` moves to the line's start, text overwrites."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    for ch in raw:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    lines.append("".join(line).rstrip())
    return lines


def on_one_terminal(*args: str) -> str:
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "tlscap", *args], stdout=secondary, stderr=secondary,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(main)
    return b"".join(chunks).decode()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "text", "md"])
def test_progress_bar_never_mixes_into_the_report(fmt: str) -> None:
    raw = on_one_terminal("scan", "samples/verdict", "--format", fmt, "--jobs", "2")
    assert BAR_MARK in raw  # the bar was drawn
    lines = screen_lines(raw)
    report = [line for line in lines if any(word in line for word in (".pcap", "tlscap", "verdict", "capture"))]
    assert report
    glued = [line for line in report if BAR_MARK in line]
    assert not glued, glued[:3]
