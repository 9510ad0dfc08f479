"""Alternative analysis engines and their cross-check.

- `tshark_engine`: the same `CaptureReport` as `tlscap.analysis.engine.analyze_capture`, built from
  what Wireshark's tshark dissects (its link layers, tunnels, TCP reassembly and TLS detection), for
  captures only Wireshark's dissectors understand.
- `compare`: runs both engines on a capture and lists every fact on which they disagree.
"""
