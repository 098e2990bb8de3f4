"""The loads bench/compare puts on a server: `netecho bench` runs, held idle connections, an
exact-echo check, and a flood cut off all at once. Every load goes to 127.0.0.1 only, runs on
one CPU (taskset), and is bounded in count and time."""

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
LIB = os.path.dirname(os.path.abspath(__file__))


def bench_cmd(netecho, proto, port, conns, size, pipeline, json_path, duration=None, warmup=0,
              messages=None, rate=None, timeout=None, connect_timeout=None, cpu=1, host=HOST):
    """A `netecho bench` command line pinned to cpu with one thread: it measures for duration
    seconds after warmup seconds, or exactly `messages` messages, sent to host (127.0.0.1
    unless a script that makes its own network namespaces says otherwise)."""
    cmd = ["taskset", "-c", str(cpu), netecho, "bench", f"{proto}://{host}:{port}",
           "-c", str(conns), "-s", str(size), "-p", str(pipeline), "-t", "1",
           "--warmup", f"{warmup}s", "--json", json_path]
    cmd += ["-n", str(messages)] if messages else ["-d", f"{duration}s"]
    if rate:
        cmd += ["--rate", str(rate)]
    if timeout:
        cmd += ["--timeout", f"{timeout}s"]
    if connect_timeout:
        cmd += ["--connect-timeout", f"{connect_timeout}s"]
    return cmd


def run_bench(cmd, json_path, log_path, limit_s):
    """Runs one `netecho bench` to completion (killed past limit_s) and returns
    {"exit": code, "report": parsed JSON or None, "wall_s": seconds}."""
    if os.path.exists(json_path):
        os.unlink(json_path)
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            code = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = "killed: over the time limit"
        wall = time.monotonic() - start
    report = None
    if os.path.exists(json_path):
        with open(json_path) as f:
            try:
                report = json.load(f)
            except ValueError:
                report = None
    return {"exit": code, "report": report, "wall_s": wall}


class IdleHolder:
    """A helper process (idle_conns.py, pinned to one CPU) that holds idle connections."""

    def __init__(self, port, log_path, cpu=1):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), sys.executable, os.path.join(LIB, "idle_conns.py"),
             HOST, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def open(self, count, seconds, window):
        """Opens count more connections within seconds, at most window at once in progress;
        returns (held, failed) so far."""
        self.proc.stdin.write(f"open {count} {seconds:.1f} {window}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if len(line) != 4 or line[0] != "held":
            raise RuntimeError(f"idle_conns.py answered {line!r}")
        return int(line[1]), int(line[3])

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def echo_check(port, conns=4, nbytes=256 * 1024, chunk=4096, seconds=20.0):
    """On each of conns fresh connections at once, sends nbytes of a distinct pattern in
    chunks, each only once the previous one came back whole. Returns (ok, detail): ok only
    when every connection got back exactly what it sent within seconds. One chunk in flight
    and no half-close: this checks that a server still echoes exactly, and nothing that some
    healthy peers do not do (ncat stalls with more than a pipe's worth in flight; it and
    others do not all honour half-close)."""
    deadline = time.monotonic() + seconds
    sel = selectors.DefaultSelector()
    state = {}
    try:
        for i in range(conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.connect((HOST, port))
            s.setblocking(False)
            unit = bytes((i * 7 + k * 13) & 0xFF for k in range(251))
            want = (unit * (nbytes // len(unit) + 1))[:nbytes]
            s.send(want[:chunk])
            state[s] = {"want": want, "sent": min(chunk, nbytes), "got": bytearray(),
                        "name": f"connection {i}"}
            sel.register(s, selectors.EVENT_READ)
        done = 0
        while done < conns:
            left = deadline - time.monotonic()
            if left <= 0:
                got = sum(len(st["got"]) for st in state.values())
                return False, f"timed out after {seconds:.0f} s ({got} of {conns * nbytes} B back)"
            for key, _ in sel.select(left):
                s, st = key.fileobj, state[key.fileobj]
                data = s.recv(65536)
                if not data:
                    return False, f"{st['name']}: closed after {len(st['got'])} of {nbytes} B"
                st["got"] += data
                if st["got"] != st["want"][:len(st["got"])]:
                    return False, f"{st['name']}: wrong bytes after offset {len(st['got'])}"
                if len(st["got"]) == nbytes:
                    sel.unregister(s)
                    done += 1
                elif len(st["got"]) == st["sent"]:
                    s.send(st["want"][st["sent"]:st["sent"] + chunk])
                    st["sent"] = min(st["sent"] + chunk, nbytes)
        return True, f"{conns} x {nbytes} B echoed exactly"
    except OSError as e:
        return False, f"{type(e).__name__}: {e}"
    finally:
        sel.close()
        for s in state:
            s.close()


def flood_then_cut(cmd, seconds, log_path):
    """Runs a `netecho bench` flood (cmd) for seconds, then SIGKILLs it so that the kernel
    closes every one of its connections at once, with data still in flight both ways (those
    with unread data are reset). Returns what the flood did before it was cut."""
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + f"   (cut with SIGKILL after {seconds} s)\n").encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            code = proc.wait(timeout=seconds)
            return {"cut": False, "exit": code}
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return {"cut": True, "exit": None}
