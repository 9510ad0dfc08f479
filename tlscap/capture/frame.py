"""What a capture reader yields: one packet block, numbered as Wireshark numbers it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One packet as stored in the capture.

    `number` is 1-based over every packet block in file order (pcapng sections included);
    `timestamp_ns` is nanoseconds since the Unix epoch, UTC; `link_type` is the LINKTYPE_* value
    of the interface the packet came from; `data` is the captured bytes, `original_length`
    the length on the wire (greater than len(data) when the snap length cut the packet).
    """

    number: int
    timestamp_ns: int
    link_type: int
    data: bytes
    original_length: int
    interface: int = 0

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.original_length
