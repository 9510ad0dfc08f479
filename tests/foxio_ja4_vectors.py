"""FoxIO's published JA4 test vectors for the captures the shared corpus holds from FoxIO-LLC/ja4.

Read from FoxIO's own expected outputs: rust/ja4/src/snapshots/ja4__insta@<capture>.snap (the Rust
tool's snapshot tests) and python/test/testdata/ipv6.pcapng.json (the Python tool's). Keys are
Wireshark's tcp.stream numbers, as FoxIO writes them; only TCP streams (QUIC is out of tlscap's scope).
"""

from __future__ import annotations

_CHROME = "t13d1516h2_8daaf6152771_e5627efa2ab1"

# tls-handshake.pcapng: 59 TCP streams, all Chrome's hello but for these.
_TLS_HANDSHAKE_OTHERS = {
    5: "t13d1516h1_8daaf6152771_e5627efa2ab1",
    6: "t13d151400_8daaf6152771_de4a06bb82e3",
    19: "t13d1516h1_8daaf6152771_e5627efa2ab1",
    30: "t13d1516h1_8daaf6152771_e5627efa2ab1",
    31: "t13d1517h1_8daaf6152771_6cdcb247c39b",
}

JA4_VECTORS: dict[str, dict[int, str]] = {
    "ja4/tls-handshake.pcapng": {s: _TLS_HANDSHAKE_OTHERS.get(s, _CHROME) for s in range(59)},
    "ja4/badcurveball.pcap": {0: "t13d1615h2_46e7e9700bed_45f260be83e2"},
    "ja4/latest.pcapng": {
        1: _CHROME,
        3: "t12d190800_d83cc789557e_7af1ed941c26",
        5: "t13d1516h2_8daaf6152771_9b887d9acb53",
        9: _CHROME,
        10: _CHROME,
    },
    "ja4/socks-https-example.pcap": {s: "t10d230100_6a57a6f57151_000000000000" for s in (0, 2, 4)},
    "ja4/browsers-x509.pcapng": {0: _CHROME, 1: _CHROME, 2: _CHROME},
    "ja4/ipv6.pcapng": {0: "t12d4605h2_85626a9a5f7f_aaf95bb78ec9"},
}

# The raw (sorted, in clear) form FoxIO publishes for ipv6.pcapng stream 0.
JA4_R_VECTORS: dict[str, dict[int, str]] = {
    "ja4/ipv6.pcapng": {0: (
        "t12d4605h2_0004,0005,000a,0016,002f,0033,0035,0039,003c,003d,0041,0045,0067,006b,0081,0084,0088,009c,"
        "009d,009e,009f,00ba,00be,00c0,00c4,00ff,c007,c008,c009,c00a,c011,c012,c013,c014,c023,c024,c027,c028,"
        "c02b,c02c,c02f,c030,cca8,cca9,ccaa,ff85_000a,000b,000d_0601,0603,efef,0501,0503,0401,0403,eeee,eded,"
        "0301,0303,0201,0203"
    )},
}
