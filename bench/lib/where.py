"""Where a server's time goes in scenario b (100 TCP connections x 64 B, closed loop): system
calls per message from `strace -c` (which syscalls) and from `perf stat` (the raw_syscalls
tracepoint, cheap enough not to change the server's batching much), with perf's software
counters (task-clock, context switches), and the kernel paths its CPU samples fall in
(`perf record -e cpu-clock -g`). Hardware counters are used only where perf has them. Each
measurement runs against a fresh server.
"""

import json
import os
import re
import signal
import subprocess
import time

import loads
import procs
import scenarios

EVENTS_SW = ["raw_syscalls:sys_enter", "task-clock", "context-switches", "cpu-migrations",
             "page-faults"]
EVENTS_HW = ["instructions", "cycles"]


def hardware_counters():
    """True when perf can count instructions here (VMs often cannot)."""
    try:
        out = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "true"],
                             capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "<not supported>" not in out and "instructions" in out


def _bench_count_cmd(ctx, port, messages, json_path):
    """Scenario b's load, for a fixed count of messages and without warm-up."""
    return loads.bench_cmd(ctx.netecho, "tcp", port, 100, 64, 1, json_path, messages=messages,
                           cpu=scenarios.CLIENT_CPU)


def _received(json_path):
    with open(json_path) as f:
        return json.load(f)["wire"]["messages_received"]


def strace_run(ctx, peer, messages, tag):
    """{syscall: calls} for the server's whole process while bench sends messages."""
    server, port, log = scenarios.start_server(ctx, peer, "tcp", tag)
    out = os.path.join(ctx.tmp, f"strace-{tag}.txt")
    err = os.path.join(ctx.tmp, f"strace-{tag}.err")
    json_path = os.path.join(ctx.tmp, f"strace-{tag}.json")
    tracer = None
    try:
        with open(err, "wb") as e:
            tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(server.pid), "-o", out],
                                      stdout=subprocess.DEVNULL, stderr=e)
        # strace says "Process N attached" once it traces: wait for it, bounded.
        deadline = time.monotonic() + 10
        while b"attached" not in open(err, "rb").read():
            if time.monotonic() > deadline:
                raise RuntimeError("strace did not attach within 10 s")
            try:
                tracer.wait(timeout=0.01)
                raise RuntimeError(f"strace exited: {open(err).read().strip()}")
            except subprocess.TimeoutExpired:
                pass
        result = loads.run_bench(_bench_count_cmd(ctx, port, messages, json_path), json_path,
                                 log, 300)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        tracer = None
    finally:
        if tracer is not None:
            tracer.kill()
            tracer.wait()
        server.stop()
    calls, errors = {}, {}
    for line in open(out).read().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$", line)
        if m and m.group(3) != "total":
            calls[m.group(3)] = int(m.group(1))
            if m.group(2):
                errors[m.group(3)] = int(m.group(2))
    return {"messages": _received(json_path) if result["report"] else 0, "calls": calls,
            "errors": errors, "bench_exit": result["exit"]}


def perf_run(ctx, peer, messages, tag, hw):
    """perf stat counters for the server's process while bench sends messages."""
    server, port, log = scenarios.start_server(ctx, peer, "tcp", tag)
    out = os.path.join(ctx.tmp, f"perf-{tag}.csv")
    json_path = os.path.join(ctx.tmp, f"perf-{tag}.json")
    events = EVENTS_SW + (EVENTS_HW if hw else [])
    try:
        cpu0 = server.cpu_seconds()
        user0, system0 = procs.user_system_seconds(server.pid)
        # With -p and a command, perf counts the server for as long as the command runs.
        cmd = ["perf", "stat", "-x,", "-o", out, "-e", ",".join(events), "-p", str(server.pid),
               "--"] + _bench_count_cmd(ctx, port, messages, json_path)
        result = loads.run_bench(cmd, json_path, log, 300)
        cpu = server.cpu_seconds() - cpu0
        user1, system1 = procs.user_system_seconds(server.pid)
    finally:
        server.stop()
    counters = {}
    for line in open(out).read().splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in events:
            try:
                counters[fields[2]] = float(fields[0])
            except ValueError:
                counters[fields[2]] = None  # "<not supported>"
    return {"messages": _received(json_path) if result["report"] else 0, "counters": counters,
            "server_cpu_s": cpu, "user_s": user1 - user0, "system_s": system1 - system0,
            "bench_exit": result["exit"]}


# Kernel functions whose inclusive share of the server's samples says where its CPU goes.
# They nest (on loopback, tcp_sendmsg runs the receiving side's softirq, net_rx_action, inline,
# so the sender pays for the client's receive), so the shares do not add up.
PROFILE_SYMBOLS = {
    "tcp_sendmsg": "tcp_sendmsg",
    "net_rx_action": "loopback delivery (net_rx_action)",
    "tcp_recvmsg": "tcp_recvmsg",
    "tcp_splice_read": "tcp_splice_read",
}


def record_run(ctx, peer, messages, tag):
    """Shares of the server's cpu-clock samples: in the kernel, and under PROFILE_SYMBOLS."""
    server, port, log = scenarios.start_server(ctx, peer, "tcp", tag)
    data = os.path.join(ctx.tmp, f"perf-{tag}.data")
    json_path = os.path.join(ctx.tmp, f"record-{tag}.json")
    try:
        cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2999", "-g", "-o", data,
               "-p", str(server.pid), "--"] + _bench_count_cmd(ctx, port, messages, json_path)
        loads.run_bench(cmd, json_path, log, 300)
    finally:
        server.stop()

    def report(*args):
        return subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", *args],
                              capture_output=True, text=True, timeout=120).stdout

    shares = {"kernel": 0.0}
    for line in report("--no-children", "--sort", "dso").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[kernel\.kallsyms\]", line)
        if m:
            shares["kernel"] = float(m.group(1))
    for line in report("--children", "--sort", "symbol").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)", line)
        if m and m.group(2) in PROFILE_SYMBOLS:
            shares[m.group(2)] = float(m.group(1))
    return shares


def profile(ctx, peers, messages):
    hw = hardware_counters()
    rows = {}
    failed = {}
    for peer in peers:
        tag = f"where-{peer.name.replace(' ', '-')}"
        try:
            rows[peer.name] = {"strace": strace_run(ctx, peer, messages, tag + "-strace"),
                               "perf": perf_run(ctx, peer, messages, tag + "-perf", hw),
                               "record": record_run(ctx, peer, messages, tag + "-record")}
        except (OSError, RuntimeError, subprocess.SubprocessError, procs.StartError) as e:
            failed[peer.name] = f"{type(e).__name__}: {e}"
    return {"hardware_counters": hw, "messages": messages, "servers": rows, "failed": failed}


def kernel_share(perf):
    """The share of the server's CPU time spent in the kernel (stime over utime+stime)."""
    total = perf["user_s"] + perf["system_s"]
    return f"{100 * perf['system_s'] / total:.0f} %" if total > 0 else "–"


def markdown(prof):
    lines = ["| server | syscalls/msg (strace -c) | by call, per message | "
             "syscalls/msg (perf) | task-clock µs/msg | in the kernel | "
             "context switches per 1,000 msgs |", "|---|---|---|---|---|---|---|"]
    for name, row in prof["servers"].items():
        st, pf = row["strace"], row["perf"]
        n = st["messages"] or 1
        total = sum(st["calls"].values())
        top = sorted(st["calls"].items(), key=lambda kv: -kv[1])[:4]
        by_call = ", ".join(
            f"{k} {v / n:.2f}" + (f" ({st['errors'][k] / n:.2f} failed)"
                                  if st["errors"].get(k, 0) / n >= 0.01 else "")
            for k, v in top)
        m = pf["messages"] or 1
        c = pf["counters"]

        def per(key, scale=1.0):
            v = c.get(key)
            return "–" if v is None else f"{v * scale / m:.2f}"

        lines.append(f"| {name} | {total / n:.2f} | {by_call} | {per('raw_syscalls:sys_enter')} "
                     f"| {per('task-clock', 1e3)} | {kernel_share(pf)} "
                     f"| {per('context-switches', 1e3)} |")
    lines += ["", "Share of the server's CPU samples (`perf record -e cpu-clock -g`, inclusive; "
              "the columns nest, so they do not add up):", "",
              "| server | in the kernel | " + " | ".join(PROFILE_SYMBOLS.values()) + " |",
              "|---|---|" + "---|" * len(PROFILE_SYMBOLS)]
    for name, row in prof["servers"].items():
        rec = row["record"]
        cells = [f"{rec[k]:.0f} %" if k in rec else "–" for k in PROFILE_SYMBOLS]
        lines.append(f"| {name} | {rec['kernel']:.0f} % | " + " | ".join(cells) + " |")
    for name, why in prof["failed"].items():
        lines.append(f"\n{name} could not be profiled: {why}")
    return "\n".join(lines) + "\n"
