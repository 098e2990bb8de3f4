#!/usr/bin/env python3
"""A small STAMP session-reflector built with Scapy's STAMP layer, the independent peer of
`netecho stamp` in tests/integration/stamp_sender_test.cpp:

  stamp_scapy_reflector.py HOST [--stateful] [--key FILE] [--delay-ms D] [--sync]
                           [--skip SEQ,...] [--mute SEQ,...] [--misbehave KIND]

It binds HOST port 0, prints "listening port=N" as its first line, and answers each packet:
T2 is read when the packet is received, then it waits D ms, then T3 (so T3 - T2 >= D). The
unauthenticated replies are built with scapy.contrib.stamp's reflector layer; Scapy has no
layer for the authenticated format, so those are built from RFC 8762's figures (§4.3.2) with
Python's hmac module; the requests' HMAC is not checked (netecho's reflector tests do that), so a
sender with another key gets replies signed with this one's, all of them wrong to it. --stateful counts the packets it takes (RFC 8762 §4.3); --skip drops
the listed sender sequence numbers unseen (loss on the way there: not counted), --mute counts
them but sends no reply (loss on the way back). --sync sets the Error Estimate's S bit.
--misbehave sends, before each good reply, a bad one: "truncated" (20 bytes), "bad-hmac" (the
HMAC flipped), "bad-tlv-hmac" (the HMAC TLV's value flipped), "other-session" (another SSID).
TLVs after the base are copied as RFC 8972 asks of a reflector that knows Extra Padding and
the HMAC TLV; authenticated, the request's HMAC TLV is checked (§4.8: the HMAC of the Sequence
Number and the TLVs before it; a wrong or missing one gets the I flag) and the reply's is
computed over the reply's own. It exits after 120 s, or when killed.
"""

import argparse
import hashlib
import hmac
import socket
import struct
import sys
import time

from scapy.contrib.stamp import (
    ErrorEstimate,
    STAMPSessionReflectorTestUnauthenticated as Reflector,
)

NTP_TO_UNIX = 2208988800
LIFETIME_S = 120


def ntp(t_ns):
    return ((t_ns // 10**9 + NTP_TO_UNIX) << 32) | (((t_ns % 10**9) << 32) // 10**9)


HMAC_TLV, EXTRA_PADDING, I_FLAG = 8, 1, 0x20


def tlvs(area):
    """(offset, type, length) of each TLV in area, up to the first that runs past it; an area
    of zero bytes is plain padding, not TLVs."""
    out, at = [], 0
    while at + 4 <= len(area) and any(area[at:]):
        t, n = area[at + 1], struct.unpack_from(">H", area, at + 2)[0]
        if at + 4 + n > len(area):
            break
        out.append((at, t, n))
        at += 4 + n
    return out


def tlv_hmac(key, packet, base, at):
    return hmac.new(key, packet[:4] + packet[base:base + at], hashlib.sha256).digest()[:16]


def reflect_hmac_tlv(key, request, reply, base):
    """RFC 8972 §4.8 on reply (a bytearray whose TLV area is a copy of request's)."""
    found = tlvs(request[base:])
    if not found:
        return
    hm = [(at, n) for at, t, n in found if t == HMAC_TLV]
    if len(hm) != 1 or hm[0][1] != 16:
        for at, _, _ in found:
            reply[base + at] |= I_FLAG
        return
    at = hm[0][0]
    if tlv_hmac(key, request, base, at) != request[base + at + 4:base + at + 20]:
        reply[base + at] |= I_FLAG
    reply[base + at + 4:base + at + 20] = tlv_hmac(key, reply, base, at)


def seqs(text):
    return {int(s) for s in text.split(",")} if text else set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--stateful", action="store_true")
    ap.add_argument("--key")
    ap.add_argument("--delay-ms", type=float, default=0)
    ap.add_argument("--sync", action="store_true")
    ap.add_argument("--skip", default="")
    ap.add_argument("--mute", default="")
    ap.add_argument("--misbehave",
                    choices=["truncated", "bad-hmac", "bad-tlv-hmac", "other-session"])
    a = ap.parse_args()
    key = None
    if a.key:
        with open(a.key, "rb") as f:
            key = f.read().rstrip(b"\n")
    skip, mute = seqs(a.skip), seqs(a.mute)
    info = socket.getaddrinfo(a.host, 0, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(info[0], socket.SOCK_DGRAM)
    sock.bind(info[4])
    sock.settimeout(1.0)
    print("listening port=%d" % sock.getsockname()[1], flush=True)
    base = 112 if key else 44
    count = 0
    deadline = time.monotonic() + LIFETIME_S
    while time.monotonic() < deadline:
        try:
            data, peer = sock.recvfrom(65536)
        except socket.timeout:
            continue
        t2 = time.time_ns()
        if len(data) < base:
            continue
        sseq = struct.unpack_from(">I", data, 0)[0]
        if sseq in skip:
            continue
        seq = count if a.stateful else sseq
        count += 1
        if sseq in mute:
            continue
        if a.delay_ms:
            time.sleep(a.delay_ms / 1000)
        ee = ErrorEstimate(S=1 if a.sync else 0, Z=0, scale=0, multiplier=1)
        if key:
            # RFC 8762 §4.3.2, with the sender's fields from §4.2.2's offsets.
            sts, see, ssid = struct.unpack_from(">QHH", data, 16)
            body = bytearray(96)
            struct.pack_into(">IQ", body, 0, seq, 0)
            struct.pack_into(">H", body, 24, int.from_bytes(bytes(ee), "big"))
            struct.pack_into(">H", body, 26, ssid)
            struct.pack_into(">Q", body, 32, ntp(t2))
            struct.pack_into(">I", body, 48, sseq)
            struct.pack_into(">QH", body, 64, sts, see)
            body[80] = 64
            struct.pack_into(">Q", body, 4 + 12, ntp(time.time_ns()))
            reply = bytes(body) + hmac.new(key, bytes(body), hashlib.sha256).digest()[:16]
            reply = bytearray(reply + data[base:])
            reflect_hmac_tlv(key, data, reply, base)
            reply = bytes(reply)
        else:
            sts, see, ssid = struct.unpack_from(">QHH", data, 4)
            # The timestamps are written as the wire's 64 bits below: Scapy's fields take seconds
            # as floats, which would round them.
            r = Reflector(seq=seq, err_estimate=ee, ssid=ssid, seq_sender=sseq, ttl_sender=64)
            reply = bytearray(bytes(r)[:44])
            struct.pack_into(">Q", reply, 16, ntp(t2))
            struct.pack_into(">QH", reply, 28, sts, see)
            struct.pack_into(">Q", reply, 4, ntp(time.time_ns()))
            reply = bytes(reply) + data[base:]  # symmetric size: TLVs or padding copied
        if a.misbehave == "truncated":
            sock.sendto(reply[:20], peer)
        elif a.misbehave == "bad-hmac":
            sock.sendto(reply[:100] + bytes(b ^ 0xFF for b in reply[100:112]) + reply[112:], peer)
        elif a.misbehave == "bad-tlv-hmac":
            # The HMAC TLV's value, where netecho stamp puts it: first after the base.
            sock.sendto(reply[:base + 4] + bytes(b ^ 0xFF for b in reply[base + 4:base + 20])
                        + reply[base + 20:], peer)
        elif a.misbehave == "other-session":
            other = bytearray(reply)
            struct.pack_into(">H", other, 26 if key else 14, (ssid + 1) & 0xFFFF)
            sock.sendto(bytes(other), peer)
        sock.sendto(reply, peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
