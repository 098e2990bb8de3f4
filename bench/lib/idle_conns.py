#!/usr/bin/env python3
"""Holds many idle TCP connections to one echo server, for the memory scenario of bench/compare.

Usage: idle_conns.py HOST PORT

Commands arrive one per line on standard input, answers leave one per line on standard output:
  open N SECONDS WINDOW
                  open N more connections, each proven served by one echoed byte, within
                  SECONDS, at most WINDOW of them in progress at once; answers
                  `held TOTAL failed F` (F: refused, reset or unanswered)
  (end of input)  close every connection and exit

Connections are opened in parallel, non-blocking, and each sends one byte and waits for it to
come back before it counts as held: a forking server has then really accepted it and forked
its child. The open-file soft limit is raised to the hard limit (20,000 here) first.
"""

import errno
import os
import resource
import selectors
import socket
import sys
import time


def open_batch(host, port, count, seconds, window, held):
    """Opens count connections, at most window of them still connecting or waiting for their
    echo at any time (a server with a short listen backlog drops SYNs beyond it, and the
    client's SYN retransmits then pace everything at 1, 3, 7 s). Appends the served ones to
    held; returns how many failed or were still unserved at the deadline."""
    sel = selectors.DefaultSelector()
    pending = {}
    failed = 0
    started = 0
    deadline = time.monotonic() + seconds
    while started < count or pending:
        while started < count and len(pending) < window:
            started += 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                continue
            pending[s] = "connecting"
            sel.register(s, selectors.EVENT_WRITE)
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(min(left, 1.0)):
            s = key.fileobj
            try:
                if pending[s] == "connecting":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.send(b"Z")
                    pending[s] = "echo"
                    sel.modify(s, selectors.EVENT_READ)
                else:
                    if s.recv(16) != b"Z":
                        raise OSError("wrong or no echo")
                    sel.unregister(s)
                    del pending[s]
                    held.append(s)
            except OSError as e:
                if failed < 3:
                    print(f"idle_conns.py: {pending[s]}: {e}", file=sys.stderr, flush=True)
                sel.unregister(s)
                del pending[s]
                s.close()
                failed += 1
    for s in pending:
        sel.unregister(s)
        s.close()
    sel.close()
    return failed + len(pending) + (count - started)


def main():
    if len(sys.argv) != 3:
        print("usage: idle_conns.py HOST PORT", file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    failed = 0
    for line in sys.stdin:
        words = line.split()
        if len(words) == 4 and words[0] == "open":
            failed += open_batch(host, port, int(words[1]), float(words[2]), int(words[3]),
                                 held)
            print(f"held {len(held)} failed {failed}", flush=True)
        else:
            print(f"error unknown command {line.strip()!r}", flush=True)
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
