#!/usr/bin/env python3
"""STAMP interop: netecho's reflector against packets built with Scapy's STAMP layer.

Run by tests/integration/stamp_test.cpp against a real `netecho serve --stamp`:

  stamp_scapy.py CASE HOST PORT [KEYFILE]

Each CASE sends test packets from a plain UDP socket, reads the replies with Scapy's
scapy.contrib.stamp reflector layer (RFC 8762, 8972) and checks them field by field; it prints
one line per check and exits 1 at the first mismatch. Scapy has no layer for the authenticated
format: those packets are built here from RFC 8762's figures (§4.2.2, §4.3.2) with Python's own
hmac module, independently of netecho's codec.
"""

import hashlib
import hmac
import socket
import struct
import sys
import time

from scapy.layers.inet import UDP
from scapy.contrib.stamp import (
    ErrorEstimate,
    STAMPSessionReflectorTestUnauthenticated as Reflector,
    STAMPSessionSenderTestUnauthenticated as Sender,
    STAMPTestTLV,
)

NTP_TO_UNIX = 2208988800
TTL = 37  # what the sender's socket sets, so that the reflector's copy can be checked


def fail(why):
    print("FAIL " + why)
    sys.exit(1)


def check(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))
    print("ok %s = %r" % (what, got))


def ntp_now():
    t = time.time_ns()
    return ((t // 10**9 + NTP_TO_UNIX) << 32) | (((t % 10**9) << 32) // 10**9)


def ntp_to_ns(wire):
    return ((wire >> 32) - NTP_TO_UNIX) * 10**9 + (((wire & 0xFFFFFFFF) * 10**9) >> 32)


class Peer:
    def __init__(self, host, port):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.family = info[0]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        if self.family == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, TTL)
        else:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, TTL)
        self.sock.connect(info[4])
        self.sock.settimeout(2.0)

    def exchange(self, data):
        self.sock.send(data)
        return self.sock.recv(65536)

    def no_reply(self, data, within=0.3):
        self.sock.send(data)
        self.sock.settimeout(within)
        try:
            got = self.sock.recv(65536)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(2.0)
        fail("a reply of %d bytes came to a packet that must be dropped" % len(got))
        return False


def sender_bytes(pkt):
    """The STAMP payload of a Scapy sender packet (built over UDP, as the layer is bound)."""
    return bytes(UDP(sport=40000, dport=862) / pkt)[8:]


def dissect(reply):
    """The reply's base read by Scapy's reflector layer, and its TLVs by Scapy's TLV layer one
    at a time: Scapy 2.5.0's reflector layer cannot dissect its own TLV list (its length_from
    reads pkt.parent, which is None while dissecting)."""
    r = Reflector(reply[:44])
    tlvs, rest = [], reply[44:]
    while rest:
        tlv = STAMPTestTLV(rest)
        tlvs.append(tlv)
        rest = rest[4 + tlv.len:]
    return r, tlvs


def check_reply(reply, sent_seq, sent_ts, sent_ssid, t1, t4, want_seq=None):
    r, _ = dissect(reply)
    # Scapy turns timestamps into seconds as floats: they are compared as the wire's 64 bits.
    ts, ts_rx, ts_sender = (struct.unpack_from(">Q", reply, at)[0] for at in (4, 16, 28))
    check("sequence", r.seq, sent_seq if want_seq is None else want_seq)
    check("session-sender sequence", r.seq_sender, sent_seq)
    check("session-sender timestamp", ts_sender, sent_ts)
    check("ssid", r.ssid, sent_ssid)
    check("session-sender TTL", r.ttl_sender, TTL)
    check("session-sender error estimate", bytes(r.err_estimate_sender), b"\x80\x0a")
    check("mbz", (r.mbz1, r.mbz2), (0, 0))
    check("error estimate Z (NTP)", r.err_estimate.Z, 0)
    if r.err_estimate.multiplier == 0:
        fail("error estimate multiplier 0 (RFC 4656: invalid)")
    t2, t3 = ntp_to_ns(ts_rx), ntp_to_ns(ts)
    # One host, one clock: T1 <= T2 <= T3 <= T4, to the NTP fraction's rounding.
    if not (t1 - 1 <= t2 <= t3 + 1 and t3 <= t4 + 1):
        fail("timestamps out of order: T1 %d T2 %d T3 %d T4 %d" % (t1, t2, t3, t4))
    print("ok T1 <= T2 <= T3 <= T4 (T3 - T2 = %d ns)" % (t3 - t2))


def unauthenticated(peer, stateful):
    seqs = [100, 105, 106]
    for i, seq in enumerate(seqs):
        ts = ntp_now()
        pkt = Sender(seq=seq, ts=0, err_estimate=ErrorEstimate(S=1, Z=0, scale=0, multiplier=10),
                     ssid=0x1234)
        data = bytearray(sender_bytes(pkt))
        struct.pack_into(">Q", data, 4, ts)  # the timestamp as raw NTP bits
        check("sender packet size", len(data), 44)
        t1 = time.time_ns()
        reply = peer.exchange(bytes(data))
        t4 = time.time_ns()
        check("reply size (symmetric)", len(reply), len(data))
        check_reply(reply, seq, ts, 0x1234, t1, t4, want_seq=i if stateful else seq)


def with_tlvs(peer):
    tlvs = [STAMPTestTLV(flags=0, type=1, len=4, value=b"\xaa\xbb\xcc\xdd"),  # Extra Padding
            STAMPTestTLV(flags=0, type=200, len=2, value=b"\x01\x02")]        # unassigned
    pkt = Sender(seq=7, ts=0, err_estimate=ErrorEstimate(S=1, Z=0, scale=0, multiplier=10),
                 ssid=9, tlv_objects=tlvs)
    data = bytearray(sender_bytes(pkt))
    check("sender packet size", len(data), 44 + 8 + 6)
    ts = ntp_now()
    struct.pack_into(">Q", data, 4, ts)
    t1 = time.time_ns()
    reply = peer.exchange(bytes(data))
    t4 = time.time_ns()
    check("reply size (symmetric)", len(reply), len(data))
    check_reply(reply, 7, ts, 9, t1, t4)
    _, tlvs = dissect(reply)
    got = [(t.type, t.len, bytes(t.value), int(t.flags)) for t in tlvs]
    # RFC 8972 §4's figure numbers the flag bits from the most significant one, U first: U is
    # 0x80. (Scapy's FlagsField names bits from the least significant one, so its "U" is 0x01:
    # the raw value is checked.)
    check("reflected TLVs (type, length, value, flags)", got,
          [(1, 4, b"\xaa\xbb\xcc\xdd", 0), (200, 2, b"\x01\x02", 0x80)])


def auth_sender(seq, ssid, key):
    # RFC 8762 §4.2.2: seq, MBZ 12, timestamp, error estimate, SSID, MBZ 68, HMAC 16.
    body = struct.pack(">I12xQHH68x", seq, ntp_now(), 0x800A, ssid)
    assert len(body) == 96
    return body + hmac.new(key, body, hashlib.sha256).digest()[:16]


def authenticated(peer, key):
    data = auth_sender(21, 5, key)
    t1 = time.time_ns()
    reply = peer.exchange(data)
    t4 = time.time_ns()
    check("reply size (symmetric)", len(reply), 112)
    check("reply HMAC", reply[96:], hmac.new(key, reply[:96], hashlib.sha256).digest()[:16])
    # RFC 8762 §4.3.2, field by field.
    seq, ts, ee, ssid = struct.unpack_from(">I12xQHH", reply, 0)
    (rx,) = struct.unpack_from(">Q", reply, 32)
    (sseq,) = struct.unpack_from(">I", reply, 48)
    sts, see = struct.unpack_from(">QH", reply, 64)
    ttl = reply[80]
    check("sequence", seq, 21)
    check("ssid", ssid, 5)
    check("session-sender sequence", sseq, 21)
    check("session-sender timestamp", sts, struct.unpack_from(">Q", data, 16)[0])
    check("session-sender error estimate", see, 0x800A)
    check("session-sender TTL", ttl, TTL)
    check("error estimate multiplier != 0", ee & 0xFF != 0, True)
    mbz = reply[4:16] + reply[28:32] + reply[40:48] + reply[52:64] + reply[74:80] + reply[81:96]
    check("every MBZ byte zero", mbz, bytes(len(mbz)))
    t2, t3 = ntp_to_ns(rx), ntp_to_ns(ts)
    if not (t1 - 1 <= t2 <= t3 + 1 and t3 <= t4 + 1):
        fail("timestamps out of order")
    print("ok T1 <= T2 <= T3 <= T4")
    wrong = bytearray(auth_sender(22, 5, key))
    wrong[100] ^= 0xFF
    peer.no_reply(bytes(wrong))
    print("ok wrong HMAC: no reply")
    peer.no_reply(auth_sender(23, 5, b"not the key"))
    print("ok other key: no reply")


def tlv_hmac(key, seq_bytes, preceding):
    """RFC 8972 §4.8: the HMAC TLV's value, over the packet's Sequence Number and every TLV
    before it (headers included), HMAC-SHA-256 cut to 128 bits."""
    return hmac.new(key, seq_bytes + preceding, hashlib.sha256).digest()[:16]


def hmac_tlv(peer, key):
    # Scapy has no layer for the HMAC TLV (type 8): it is Scapy's generic TLV layer with the
    # RFC 8972 §4.8 figure's 16-byte value.
    def request(seq, value_of=None, with_hmac=True):
        base = bytearray(auth_sender(seq, 5, key)[:96])
        preceding = bytes(STAMPTestTLV(flags=0, type=1, len=2, value=b"\xab\xcd") /
                          STAMPTestTLV(flags=0, type=200, len=1, value=b"\x11"))
        tlvs = preceding
        if with_hmac:
            value = (value_of or tlv_hmac)(key, bytes(base[:4]), preceding)
            tlvs += bytes(STAMPTestTLV(flags=0, type=8, len=16, value=value))
        return bytes(base) + hmac.new(key, bytes(base), hashlib.sha256).digest()[:16] + tlvs

    def reply_tlvs(reply):
        check("reply HMAC", reply[96:112],
              hmac.new(key, reply[:96], hashlib.sha256).digest()[:16])
        tlvs, rest = [], reply[112:]
        while rest:
            tlv = STAMPTestTLV(rest)
            tlvs.append(tlv)
            rest = rest[4 + tlv.len:]
        return tlvs

    # Flags are RFC 8972's bits from the most significant one: U 0x80, I 0x20.
    data = request(31)
    check("sender packet size", len(data), 112 + 6 + 5 + 20)
    reply = peer.exchange(data)
    check("reply size (symmetric)", len(reply), len(data))
    tlvs = reply_tlvs(reply)
    check("reflected TLVs (type, flags)", [(t.type, int(t.flags)) for t in tlvs],
          [(1, 0), (200, 0x80), (8, 0)])
    check("reply's HMAC TLV: over its sequence number and its own TLVs",
          tlvs[2].value, tlv_hmac(key, reply[:4], reply[112:112 + 11]))

    data = request(32, value_of=lambda k, s, p: tlv_hmac(b"not the key", s, p))
    reply = peer.exchange(data)
    check("reply size (symmetric)", len(reply), len(data))
    tlvs = reply_tlvs(reply)
    check("wrong HMAC TLV: reflected with I (type, flags)",
          [(t.type, int(t.flags)) for t in tlvs], [(1, 0), (200, 0x80), (8, 0x20)])
    check("its reply's HMAC TLV still signed",
          tlvs[2].value, tlv_hmac(key, reply[:4], reply[112:112 + 11]))

    data = request(33, with_hmac=False)
    reply = peer.exchange(data)
    tlvs = reply_tlvs(reply)
    check("no HMAC TLV: I on every TLV (type, flags)",
          [(t.type, int(t.flags)) for t in tlvs], [(1, 0x20), (200, 0xA0)])


def truncated(peer):
    pkt = sender_bytes(Sender(seq=1, ssid=1))
    peer.no_reply(pkt[:40])  # 41 to 43 bytes: a TWAMP-Light sender's (twamp_light)
    peer.no_reply(b"")
    print("ok truncated: no reply")


def twamp_light(peer):
    for padding in (27, 30):
        twamp_light_once(peer, padding)


def twamp_light_once(peer, padding):
    # RFC 5357 §4.1.2 unauthenticated TWAMP-Test, symmetric size (RFC 6038): seq, timestamp,
    # error estimate, then packet padding, as a TWAMP-Light sender fills it (not zero): 27
    # bytes make the smallest symmetric packet, 41 bytes, shorter than STAMP's 44.
    ts = ntp_now()
    data = struct.pack(">IQH", 3, ts, 0x0001) + bytes(range(1, 1 + padding))
    t1 = time.time_ns()
    reply = peer.exchange(data)
    t4 = time.time_ns()
    # What a TWAMP-Light sender reads (RFC 5357 §4.2.1): the sender's fields at 24..41.
    check("reply size (symmetric)", len(reply), len(data))
    seq, rts, _ee, _mbz, rx, sseq, sts, see, _mbz2, ttl = struct.unpack_from(
        ">IQHHQIQHHB", reply, 0)
    check("sequence", seq, 3)
    check("sender sequence", sseq, 3)
    check("sender timestamp", sts, ts)
    check("sender error estimate", see, 0x0001)
    check("sender TTL", ttl, TTL)
    t2, t3 = ntp_to_ns(rx), ntp_to_ns(rts)
    if not (t1 - 1 <= t2 <= t3 + 1 and t3 <= t4 + 1):
        fail("timestamps out of order")
    print("ok T1 <= T2 <= T3 <= T4")


def main():
    case, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    peer = Peer(host, port)
    if case == "stateless":
        unauthenticated(peer, stateful=False)
    elif case == "stateful":
        unauthenticated(peer, stateful=True)
    elif case == "tlvs":
        with_tlvs(peer)
    elif case == "authenticated":
        with open(sys.argv[4], "rb") as f:
            key = f.read().rstrip(b"\n")
        authenticated(peer, key)
    elif case == "hmac-tlv":
        with open(sys.argv[4], "rb") as f:
            key = f.read().rstrip(b"\n")
        hmac_tlv(peer, key)
    elif case == "truncated":
        truncated(peer)
    elif case == "twamp-light":
        twamp_light(peer)
    else:
        fail("unknown case " + case)
    print("done")


if __name__ == "__main__":
    main()
