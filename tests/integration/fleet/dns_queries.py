"""Counts the DNS queries the test world's knotd (127.0.0.1:5353) receives, by name and type.

Every tlsfenced's in-process libunbound (the world's libunbound.conf: stub zones -> knotd) asks
knotd directly, each with its own cache, so the queries arriving at knotd's port are the
queries the fleet's resolvers sent. They are read off the loopback interface with a packet
socket (AF_PACKET, needs root like the rest of the world) — knotd itself has no query log —
UDP and TCP (first message of a segment, after its length prefix). The kernel's drop counter
is read at the end: a capture that lost packets is an error, never a smaller count.
"""
import collections
import socket
import struct
import threading

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 15: "MX", 16: "TXT", 28: "AAAA", 43: "DS", 48: "DNSKEY",
         52: "TLSA"}


def parse_query(msg):
    """(name, type) of a DNS query message, or None for a response or something unparsable."""
    if len(msg) < 17 or msg[2] & 0x80 or struct.unpack("!H", msg[4:6])[0] < 1:
        return None
    labels, i = [], 12
    while i < len(msg) and msg[i]:
        n = msg[i]
        if n & 0xC0 or i + 1 + n > len(msg):
            return None
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    if i + 3 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[i + 1:i + 3])[0]
    return ".".join(labels) + ".", TYPES.get(qtype, str(qtype))


class DnsQueries:
    """with DnsQueries() as q: ... ; then q.counts: Counter of (name, type) -> queries."""

    def __init__(self, addr="127.0.0.1", port=5353):
        self.addr, self.port = socket.inet_aton(addr), port
        self.counts = collections.Counter()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.1)
        self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)  # reset the counters
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.stop.is_set():
            return
        self.stop.set()
        self.thread.join(10)
        _, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        self.sock.close()
        if drops:
            raise AssertionError("the DNS capture dropped %d packets: counts would be too small" % drops)

    def run(self):
        while not self.stop.is_set():
            try:
                frame, where = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            if where[2] == socket.PACKET_OUTGOING:  # loopback: every packet is seen leaving too
                continue
            q = self.query_of(frame)
            if q:
                self.counts[q] += 1

    def query_of(self, frame):
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":  # IPv4 behind lo's 14-byte header
            return None
        ip = frame[14:]
        ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
        if ip[16:20] != self.addr or len(ip) < ihl + 8:
            return None
        l4 = ip[ihl:]
        if struct.unpack("!H", l4[2:4])[0] != self.port:
            return None
        if proto == 17:  # UDP
            return parse_query(l4[8:])
        if proto == 6 and len(l4) >= 20:  # TCP: skip the 2-byte length of the message
            payload = l4[(l4[12] >> 4) * 4:]
            return parse_query(payload[2:]) if len(payload) > 2 else None
        return None

    def of(self, *suffixes):
        """The counts of the names equal to or under one of `suffixes` ("fleet.test.")."""
        return {k: n for k, n in self.counts.items()
                if any(k[0] == s or k[0].endswith("." + s) for s in suffixes)}
