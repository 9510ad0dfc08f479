"""LINKTYPE_* values (tcpdump.org link-layer header types) and their names.

`link_type_name` gives the short upper-case name used in the JSON report ("ETHERNET",
"LINUX_SLL2", ...); `link_type_title` gives a phrase for people ("Linux cooked v2 (SLL2)").
"""

from __future__ import annotations

LINKTYPE_UNKNOWN = -1  # a packet whose interface the file never described
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_DLT_RAW_A = 12  # DLT_RAW as most BSDs number it, found in old pcap files
LINKTYPE_DLT_RAW_B = 14  # DLT_RAW as OpenBSD numbers it
LINKTYPE_PPP_HDLC = 50
LINKTYPE_PPP_ETHER = 51
LINKTYPE_RAW = 101
LINKTYPE_C_HDLC = 104
LINKTYPE_IEEE802_11 = 105
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_PPI = 192
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276

_NAMES: dict[int, str] = {
    LINKTYPE_NULL: "NULL",
    LINKTYPE_ETHERNET: "ETHERNET",
    3: "AX25",
    6: "IEEE802_5",
    7: "ARCNET_BSD",
    8: "SLIP",
    LINKTYPE_PPP: "PPP",
    10: "FDDI",
    LINKTYPE_DLT_RAW_A: "RAW",
    LINKTYPE_DLT_RAW_B: "RAW",
    LINKTYPE_PPP_HDLC: "PPP_HDLC",
    LINKTYPE_PPP_ETHER: "PPP_ETHER",
    100: "ATM_RFC1483",
    LINKTYPE_RAW: "RAW",
    LINKTYPE_C_HDLC: "C_HDLC",
    LINKTYPE_IEEE802_11: "IEEE802_11",
    107: "FRELAY",
    LINKTYPE_LOOP: "LOOP",
    LINKTYPE_LINUX_SLL: "LINUX_SLL",
    114: "LTALK",
    117: "PFLOG",
    119: "IEEE802_11_PRISM",
    122: "IP_OVER_FC",
    123: "SUNATM",
    LINKTYPE_IEEE802_11_RADIOTAP: "IEEE802_11_RADIOTAP",
    129: "ARCNET_LINUX",
    138: "APPLE_IP_OVER_IEEE1394",
    139: "MTP2_WITH_PHDR",
    140: "MTP2",
    141: "MTP3",
    142: "SCCP",
    143: "DOCSIS",
    144: "LINUX_IRDA",
    **{147 + i: f"USER{i}" for i in range(16)},
    163: "IEEE802_11_AVS",
    165: "BACNET_MS_TP",
    166: "PPP_PPPD",
    169: "GPRS_LLC",
    177: "LINUX_LAPD",
    187: "BLUETOOTH_HCI_H4",
    189: "USB_LINUX",
    LINKTYPE_PPI: "PPI",
    195: "IEEE802_15_4_WITHFCS",
    197: "ERF",
    201: "BLUETOOTH_HCI_H4_WITH_PHDR",
    204: "PPP_WITH_DIR",
    220: "USB_LINUX_MMAPPED",
    226: "IPNET",
    227: "CAN_SOCKETCAN",
    LINKTYPE_IPV4: "IPV4",
    LINKTYPE_IPV6: "IPV6",
    231: "DBUS",
    LINKTYPE_NFLOG: "NFLOG",
    240: "NETANALYZER",
    241: "NETANALYZER_TRANSPARENT",
    242: "IPOIB",
    243: "MPEG_2_TS",
    247: "INFINIBAND",
    248: "SCTP",
    249: "USBPCAP",
    251: "BLUETOOTH_LE_LL",
    253: "NETLINK",
    254: "BLUETOOTH_LINUX_MONITOR",
    258: "PKTAP",
    263: "WATTSTOPPER_DLM",
    266: "USB_DARWIN",
    271: "VSOCK",
    272: "NORDIC_BLE",
    274: "ETHERNET_MPACKET",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2",
    279: "EBHSCR",
    280: "VPP_DISPATCH",
}

_TITLES: dict[int, str] = {
    LINKTYPE_NULL: "BSD loopback (NULL)",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_PPP: "PPP",
    LINKTYPE_DLT_RAW_A: "raw IP",
    LINKTYPE_DLT_RAW_B: "raw IP",
    LINKTYPE_PPP_HDLC: "PPP in HDLC framing",
    LINKTYPE_PPP_ETHER: "PPPoE",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_C_HDLC: "Cisco HDLC",
    LINKTYPE_IEEE802_11: "IEEE 802.11 wireless",
    LINKTYPE_LOOP: "OpenBSD loopback (LOOP)",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IEEE802_11_RADIOTAP: "IEEE 802.11 with radiotap header",
    LINKTYPE_PPI: "Per-Packet Information",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_NFLOG: "Linux netfilter log (NFLOG)",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
    LINKTYPE_UNKNOWN: "unknown interface",
}

# pcap files from old BSDs store DLT_RAW's platform value instead of LINKTYPE_RAW.
_NORMALIZED: dict[int, int] = {LINKTYPE_DLT_RAW_A: LINKTYPE_RAW, LINKTYPE_DLT_RAW_B: LINKTYPE_RAW}


def normalize_link_type(n: int) -> int:
    """The LINKTYPE_* value for a header field that may hold an old platform DLT value (12, 14 -> RAW)."""
    return _NORMALIZED.get(n, n)


def link_type_name(n: int) -> str:
    """Short name for the JSON report: "ETHERNET", "LINUX_SLL2", ...; `LINKTYPE_<n>` when unknown."""
    return _NAMES.get(n) or f"LINKTYPE_{n}"


def link_type_title(n: int) -> str:
    """A human title: "Ethernet", "Linux cooked v2 (SLL2)", "raw IP"; the short name otherwise."""
    return _TITLES.get(n) or link_type_name(n)
