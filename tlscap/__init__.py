"""tlscap: offline analyzer of TLS handshakes in packet captures."""

__version__ = "0.1.0"
