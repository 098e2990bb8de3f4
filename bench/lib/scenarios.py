"""The scenarios of issue 6 (a-g): what each one runs against a fresh server and which figures
it returns. Each run returns (figures, note, raw record): a figure is a number (for g, 1 for
"survived and echoed exactly", 0 for not); the note, when there is one, says what went wrong
(errors beside the measurement, nothing measured, a failed check) and marks the table's cell."""

import os
import time

import loads
import procs

SERVER_CPU = 0
CLIENT_CPU = 1


class Params:
    """Sizes and times of one comparison. --quick keeps every scenario and every server but
    runs each once, shorter, with 2,000 idle connections instead of 10,000: a check that the
    whole comparison works, in under 3 minutes, not a measurement to quote."""

    def __init__(self, quick):
        self.quick = quick
        self.rounds = 1 if quick else 3
        self.warmup = 0.2 if quick else 1.0
        self.duration = 0.6 if quick else 4.0
        # c: peers that take 1,000 connections in slowly get a longer warm-up (and a longer
        # connect timeout and per-message timeout, all bounded).
        self.slow_warmup = 1.0 if quick else 3.0
        self.slow_connect = 10 if quick else 30
        self.idle_conns = 2000 if quick else 10000
        self.idle_seconds = 30.0 if quick else 120.0  # to open and prove all of them
        self.flood_conns = 1000
        self.flood_seconds = 1.0 if quick else 3.0


class Context:
    def __init__(self, netecho, tmp, logs, params):
        self.netecho = netecho
        self.tmp = tmp
        self.logs = logs
        self.params = params


class Figure:
    """One column of the table.

    better:  "hi" or "lo" (which way is better), or "ok" for pass/fail
    target:  (kind, value): ("ratio_max", x) netecho / best peer <= x; ("ratio_min", x)
             netecho / best peer >= x; ("abs_max", x) netecho's own figure <= x; ("all", None)
             every round passed; None: no target
    """

    def __init__(self, key, scenario, label, unit, better, target=None, digits=0):
        self.key = key
        self.scenario = scenario
        self.label = label
        self.unit = unit
        self.better = better
        self.target = target
        self.digits = digits


FIGURES = [
    Figure("a_p50", "a", "a: TCP 1 conn p50", "µs", "lo", digits=1),
    Figure("a_p99", "a", "a: TCP 1 conn p99", "µs", "lo", digits=1),
    Figure("a_p999", "a", "a: TCP 1 conn p99.9", "µs", "lo", ("ratio_max", 1.0), digits=1),
    Figure("b_rate", "b", "b: TCP 100 conns", "msgs/s", "hi", ("ratio_min", 1.0)),
    Figure("b_cpu", "b", "b: TCP 100 conns, server CPU", "µs/msg", "lo", ("ratio_max", 2 / 3),
           digits=2),
    Figure("c_rate", "c", "c: TCP 1,000 conns", "msgs/s", "hi", ("ratio_min", 1.5)),
    Figure("d_mbps", "d", "d: TCP 64 KiB stream", "MB/s", "hi", ("ratio_min", 1.0)),
    Figure("e_p50", "e1", "e: UDP 1 client p50", "µs", "lo", digits=1),
    Figure("e_p99", "e1", "e: UDP 1 client p99", "µs", "lo", ("ratio_max", 1.0), digits=1),
    Figure("e_rate", "e2", "e: UDP 100 clients", "msgs/s", "hi"),
    Figure("e_cpu", "e2", "e: UDP 100 clients, server CPU", "µs/msg", "lo", ("ratio_max", 2 / 3),
           digits=2),
    # The target: 10,000 idle connections in at most 8 MiB, under 1 KiB each; per
    # connection it is 8 MiB / 10,000 = 0.82 KiB, which a --quick run (fewer) can check too.
    Figure("f_pss", "f", "f: {idle} idle conns, PSS", "MiB", "lo", ("abs_max", 8.0), digits=1),
    Figure("f_per_conn", "f", "f: PSS per idle conn", "KiB", "lo", ("abs_max", 8192 / 10000),
           digits=2),
    Figure("g_ok", "g", "g: flood, cut, still exact", "rounds", "ok", ("all", None)),
]


def start_server(ctx, peer, proto, tag):
    """A fresh server of peer for proto on a free port, pinned, ready: (server, port, log)."""
    port = procs.free_port()
    log = os.path.join(ctx.logs, f"{peer.name.replace(' ', '-')}.log")
    with open(log, "ab") as f:
        f.write(f"\n=== {tag}\n".encode())
    server = procs.Server(peer.command(proto, port, ctx.tmp), peer.ready, proto, port,
                          SERVER_CPU, log)
    server.start()
    return server, server.listening_port(proto), log


def _bench(ctx, server, proto, port, log, tag, conns, size, pipeline, warmup=None,
           timeout=None, connect_timeout=None):
    p = ctx.params
    warmup = p.warmup if warmup is None else warmup
    json_path = os.path.join(ctx.tmp, f"bench-{tag}.json")
    cmd = loads.bench_cmd(ctx.netecho, proto, port, conns, size, pipeline, json_path,
                          duration=p.duration, warmup=warmup, timeout=timeout,
                          connect_timeout=connect_timeout, cpu=CLIENT_CPU)
    limit = (connect_timeout or 5) + warmup + p.duration + 2 * (timeout or 2) + 30
    processes = len(procs.process_tree(server.pid))
    cpu0 = server.cpu_seconds()
    result = loads.run_bench(cmd, json_path, log, limit)
    if proto == "tcp":
        # A forking server's children exit as the connections close: read once they are
        # reaped, so that their time is in their parent's and counted once. (A child stuck
        # for good, as ncat's are after a stall, is not waited for long.)
        result["settled"] = server.settle(processes, 10.0 if result["exit"] == 0 else 2.0)
    cpu1 = server.cpu_seconds()
    result["server_cpu_s"] = cpu1 - cpu0
    result["server_alive"] = server.alive()
    result["command"] = " ".join(cmd)
    if result["report"]:
        # The percentile distribution is kept out of the raw record: the fixed percentiles
        # stay, and the record stays small.
        result["report"].pop("latency_distribution", None)
    return result


def _bench_figures(result):
    """(bench's report or None when the run measured nothing, a note or None). The note says
    what went wrong: nothing measured, or errors (timeouts, losses, resets, ...) beside what
    was measured; either marks the cell."""
    r = result["report"]
    if r is None:
        return None, f"bench exit {result['exit']}, no report"
    if r["throughput"]["messages"] == 0:
        return None, f"bench exit {result['exit']}, no message measured: {r.get('first_error')}"
    if r["errors"]["total"]:
        return r, f"{r['errors']['total']:,} bench errors, first: {r.get('first_error')}"
    return r, None


def _latency(r, key):
    return r["latency_ns"][key] / 1000.0


def _cpu_per_msg(result, r):
    received = r["wire"]["messages_received"]
    return result["server_cpu_s"] * 1e6 / received if received else None


# A UDP datagram unanswered this long is lost: short enough that a lossy peer's client is not
# stalled for most of a run, far above any reply time seen here.
UDP_TIMEOUT = 0.5


def run_a(ctx, peer, tag):
    return _latency_run(ctx, peer, tag, "tcp", {"a_p50": "p50", "a_p99": "p99",
                                                "a_p999": "p99_9"})


def run_e1(ctx, peer, tag):
    return _latency_run(ctx, peer, tag, "udp", {"e_p50": "p50", "e_p99": "p99"},
                        timeout=UDP_TIMEOUT)


def _latency_run(ctx, peer, tag, proto, keys, timeout=None):
    server, port, log = start_server(ctx, peer, proto, tag)
    try:
        result = _bench(ctx, server, proto, port, log, tag, 1, 64, 1, timeout=timeout)
    finally:
        server.stop()
    r, note = _bench_figures(result)
    figures = {k: _latency(r, v) for k, v in keys.items()} if r else {}
    return figures, note, result


def run_b(ctx, peer, tag):
    return _rate_run(ctx, peer, tag, "tcp", 100, "b_rate", "b_cpu")


def run_e2(ctx, peer, tag):
    return _rate_run(ctx, peer, tag, "udp", 100, "e_rate", "e_cpu", timeout=UDP_TIMEOUT)


def run_c(ctx, peer, tag):
    p = ctx.params
    # Forking peers with a short backlog take 1,000 connections in slowly (their clients'
    # SYNs are dropped and retried): they get time to connect and to warm up, bounded.
    slow = peer.forking or peer.backlog < 1000
    return _rate_run(ctx, peer, tag, "tcp", 1000, "c_rate", None,
                     warmup=p.slow_warmup if slow else None, timeout=10,
                     connect_timeout=p.slow_connect if slow else None)


def _rate_run(ctx, peer, tag, proto, conns, rate_key, cpu_key, warmup=None, timeout=None,
              connect_timeout=None):
    server, port, log = start_server(ctx, peer, proto, tag)
    try:
        result = _bench(ctx, server, proto, port, log, tag, conns, 64, 1, warmup=warmup,
                        timeout=timeout, connect_timeout=connect_timeout)
    finally:
        server.stop()
    r, note = _bench_figures(result)
    if r is None:
        return {}, note, result
    figures = {rate_key: r["throughput"]["messages_per_s"]}
    if cpu_key:
        figures[cpu_key] = _cpu_per_msg(result, r)
    return figures, note, result


def run_d(ctx, peer, tag):
    server, port, log = start_server(ctx, peer, "tcp", tag)
    try:
        result = _bench(ctx, server, "tcp", port, log, tag, 1, 65536, 8)
    finally:
        server.stop()
    r, note = _bench_figures(result)
    return ({"d_mbps": r["throughput"]["megabytes_per_s"]} if r else {}), note, result


# Processes the machine keeps free for everyone else while a forking peer holds idle
# connections (pid_max is 32,768 here and ncat runs two processes per connection).
PID_RESERVE = 8192
IDLE_SETTLE_S = 2.0  # f: how long the connections sit idle before PSS is read


def run_f(ctx, peer, tag):
    p = ctx.params
    server, port, log = start_server(ctx, peer, "tcp", tag)
    result = {"target": p.idle_conns}
    holder = None
    try:
        base_kib, base_procs = server.pss_kib()
        result.update(baseline_pss_kib=base_kib, baseline_processes=base_procs)
        holder = loads.IdleHolder(port, log, cpu=CLIENT_CPU)
        deadline = time.monotonic() + p.idle_seconds
        held = failed = 0
        stop_reason = None
        while held < p.idle_conns:
            left = deadline - time.monotonic()
            if left <= 0:
                stop_reason = f"time limit ({p.idle_seconds:.0f} s)"
                break
            if peer.forking and procs.pid_headroom() < PID_RESERVE + 2 * 500:
                stop_reason = "kept pids free for the rest of the machine"
                break
            # 500 at a time, each batch given at most 30 s (ncat, the slowest, needs about 3).
            window = max(1, min(256, peer.backlog - 2))
            held, failed = holder.open(min(500, p.idle_conns - held), min(left, 30.0), window)
            if failed:
                stop_reason = f"{failed} connection(s) failed"
                break
        # Idle means idle: the connections sit for a moment before memory is read, the same
        # for every server (netecho's io_uring workers give buffer pages back after 1 s idle).
        time.sleep(IDLE_SETTLE_S)
        pss, nprocs = server.pss_kib()
        result.update(held=held, failed=failed, pss_kib=pss, processes=nprocs,
                      stopped_early=stop_reason, server_alive=server.alive())
    finally:
        if holder:
            holder.close()
        server.stop()
    if held == 0:
        return {}, f"no connection held ({stop_reason})", result
    figures = {"f_pss": pss / 1024.0, "f_per_conn": (pss - base_kib) / held}
    err = None
    if held < p.idle_conns:
        err = f"held {held} of {p.idle_conns}: {stop_reason}"
    return figures, err, result


def run_g(ctx, peer, tag):
    p = ctx.params
    server, port, log = start_server(ctx, peer, "tcp", tag)
    result = {}
    try:
        json_path = os.path.join(ctx.tmp, f"flood-{tag}.json")
        # Open loop far above what one core can echo, 64 KiB in flight per connection.
        cmd = loads.bench_cmd(ctx.netecho, "tcp", port, p.flood_conns, 1024, 64, json_path,
                              duration=600, rate=1_000_000, timeout=600, cpu=CLIENT_CPU)
        result["flood"] = loads.flood_then_cut(cmd, p.flood_seconds, log)
        result["flood_command"] = " ".join(cmd)
        alive_after_cut = server.alive()
        ok, detail = (False, "server exited")
        if alive_after_cut:
            ok, detail = loads.echo_check(port, seconds=30.0 if peer.forking else 15.0)
        result.update(alive=alive_after_cut and server.alive(), echo_ok=ok, detail=detail)
    finally:
        server.stop()
    passed = bool(result.get("alive") and result.get("echo_ok"))
    return {"g_ok": 1.0 if passed else 0.0}, None if passed else result.get("detail"), result


SCENARIOS = {
    "a": ("TCP ping-pong, 1 connection, 64 B", "tcp", run_a),
    "b": ("TCP closed loop, 100 connections x 64 B", "tcp", run_b),
    "c": ("TCP closed loop, 1,000 connections x 64 B", "tcp", run_c),
    "d": ("TCP, 1 connection streaming 64 KiB messages (pipeline 8)", "tcp", run_d),
    "e1": ("UDP ping-pong, 1 client, 64 B", "udp", run_e1),
    "e2": ("UDP closed loop, 100 clients x 64 B", "udp", run_e2),
    "f": ("idle TCP connections, each proven by one echoed byte", "tcp", run_f),
    "g": ("1,000 connections flooding open loop, then all cut at once (SIGKILL)", "tcp",
          run_g),
}
