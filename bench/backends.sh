#!/usr/bin/env bash
# epoll against io_uring: the same `netecho serve`, one worker thread pinned to CPU 0, driven by
# `netecho bench` (one thread) pinned to CPU 1, for each backend in turn.
#
# Cases (closed loop, every echoed byte checked by bench):
#   pingpong  100 connections x 64 B, pipeline 1            -> msgs/s
#   pipeline  1,000 connections x 64 B, pipeline 4          -> msgs/s
#   stream    1 connection, 64 KiB messages, pipeline 8     -> MB/s
#   latency   1 connection x 64 B, pipeline 1               -> p50, p99
# Each case runs RUNS times per backend, the backends alternating (epoll first in odd rounds,
# io_uring first in even ones) and each run on a fresh server; the table gives the median and
# the best run of each, the server's CPU time per message (from /proc, around each run) and the
# io_uring/epoll ratio of the medians. On a shared machine the best run shows what each backend
# can do when nothing else runs; the server's CPU per message is the steadiest figure.
# Then, for the pingpong case, one run per backend under `strace -c -f` (system calls per
# message; strace slows the server, the counts stay meaningful) and one under `perf stat`
# (task-clock and context switches per message).
#
# Usage: bench/backends.sh [--write]     (--write replaces this script's section in
#                                          docs/PERFORMANCE.md; other sections are kept)
# Environment: NETECHO (binary, default build/release/src/netecho), RUNS (5), DURATION (3),
#              WARMUP (1) in seconds, CLIENT_BACKEND (auto: the same load generator for both),
#              SERVER_CPU (0), BENCH_CPU (1), CASES (all: "pingpong pipeline stream latency").
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
if [[ ${1:-} == --write ]]; then
  write=true
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--write]" >&2
  exit 2
fi

bin=${NETECHO:-build/release/src/netecho}
[[ -x $bin ]] || { echo "backends.sh: $bin not found; build first (scripts/build release)" >&2; exit 1; }
for tool in taskset python3; do
  command -v "$tool" >/dev/null || { echo "backends.sh: $tool is needed" >&2; exit 1; }
done
if (($(nproc) < 2)); then
  echo "backends.sh: needs two CPUs (server, bench); nproc says $(nproc)" >&2
  exit 1
fi
if ! "$bin" serve --list-backends | grep -q '^backend=io_uring usable=yes'; then
  echo "backends.sh: io_uring cannot run here:" >&2
  "$bin" serve --list-backends >&2
  exit 1
fi

exec python3 - "$bin" "$write" <<'EOF'
import json, os, platform, re, signal, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.getcwd(), "bench", "lib"))
import loads  # noqa: E402  (bench/lib: bench command lines and runs)
import procs  # noqa: E402  (bench/lib: pinned server processes, their CPU time)

netecho, write = sys.argv[1], sys.argv[2] == "true"
runs = int(os.environ.get("RUNS", "5"))
duration = float(os.environ.get("DURATION", "3"))
warmup = float(os.environ.get("WARMUP", "1"))
client_backend = os.environ.get("CLIENT_BACKEND", "auto")
server_cpu = int(os.environ.get("SERVER_CPU", "0"))
bench_cpu = int(os.environ.get("BENCH_CPU", "1"))
BACKENDS = ("epoll", "io_uring")
CASES = {
    "pingpong": dict(conns=100, size=64, pipeline=1,
                     title="100 connections x 64 B ping-pong", unit="msgs/s"),
    "pipeline": dict(conns=1000, size=64, pipeline=4,
                     title="1,000 connections x 64 B, pipeline 4", unit="msgs/s"),
    "stream": dict(conns=1, size=65536, pipeline=8,
                   title="1 connection streaming 64 KiB messages (pipeline 8)", unit="MB/s"),
    "latency": dict(conns=1, size=64, pipeline=1,
                    title="1 connection x 64 B ping-pong", unit="p50/p99"),
}
chosen = os.environ.get("CASES", " ".join(CASES)).split()
work = tempfile.mkdtemp(prefix="netecho-backends-")
log = os.path.join(work, "log.txt")


def server_for(backend):
    port = procs.free_port()
    cmd = [netecho, "serve", "--tcp", f"127.0.0.1:{port}", "--threads", "1",
           "--backend", backend]
    s = procs.Server(cmd, "line", "tcp", port, server_cpu, log)
    s.start()
    got = s.ready_fields().get("backend")
    if got != backend:
        s.stop()
        sys.exit(f"backends.sh: asked for {backend}, the server runs {got}")
    return s, port


def bench(port, case, json_path, extra=None, messages=None):
    c = CASES[case]
    cmd = loads.bench_cmd(netecho, "tcp", port, c["conns"], c["size"], c["pipeline"],
                          json_path=json_path, duration=duration,
                          warmup=0 if messages else warmup, messages=messages, cpu=bench_cpu)
    return (extra or []) + cmd + ["--backend", client_backend]


def one_run(case, backend, tag):
    server, port = server_for(backend)
    try:
        json_path = os.path.join(work, f"{tag}.json")
        cpu0 = server.cpu_seconds()
        result = loads.run_bench(bench(port, case, json_path), json_path, log,
                                 duration + warmup + 120)
        cpu = server.cpu_seconds() - cpu0
    finally:
        server.stop()
    d = result["report"]
    if d is None or result["exit"] != 0:
        sys.exit(f"backends.sh: bench failed ({result['exit']}) for {case} on {backend}; "
                 f"see {log}")
    wire = d["wire"]["messages_received"] or 1
    span = d["parameters"]["warmup_s"] + d["run"]["elapsed_s"]
    row = {"msgs": d["throughput"]["messages_per_s"], "mbs": d["throughput"]["megabytes_per_s"],
           "p50": d["latency_ns"]["p50"] / 1000, "p99": d["latency_ns"]["p99"] / 1000,
           "server_us": cpu * 1e6 / wire, "server_busy": cpu / span if span else 0.0,
           "client_us": d["cpu"]["per_message_us"],
           "errors": d["errors"]["total"]}
    print(f"  {case:9} {backend:9} {row['msgs']:>12,.0f} msgs/s {row['mbs']:>9.1f} MB/s "
          f"p50 {row['p50']:>8.1f} us p99 {row['p99']:>8.1f} us  server "
          f"{row['server_us']:.2f} us/msg, busy {row['server_busy']:.0%}; bench "
          f"{row['client_us']:.2f} us/msg", file=sys.stderr)
    return row


def strace_counts(backend, messages):
    """System calls per message of the server under strace -c -f (pingpong case)."""
    server, port = server_for(backend)
    out = os.path.join(work, f"strace-{backend}.txt")
    err = os.path.join(work, f"strace-{backend}.err")
    json_path = os.path.join(work, f"strace-{backend}.json")
    tracer = None
    try:
        with open(err, "wb") as e:
            tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(server.pid), "-o", out],
                                      stdout=subprocess.DEVNULL, stderr=e)
        deadline = time.monotonic() + 10
        while b"attached" not in open(err, "rb").read():
            if time.monotonic() > deadline:
                raise RuntimeError("strace did not attach within 10 s")
            try:
                tracer.wait(timeout=0.01)
                raise RuntimeError(f"strace exited: {open(err).read().strip()}")
            except subprocess.TimeoutExpired:
                pass
        result = loads.run_bench(bench(port, "pingpong", json_path, messages=messages),
                                 json_path, log, 300)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        tracer = None
    finally:
        if tracer is not None:
            tracer.kill()
            tracer.wait()
        server.stop()
    calls = {}
    for line in open(out).read().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1))
    n = result["report"]["wire"]["messages_received"] if result["report"] else 0
    return n, calls


def perf_counts(backend, messages):
    """perf stat software counters of the server (pingpong case), per message."""
    server, port = server_for(backend)
    out = os.path.join(work, f"perf-{backend}.csv")
    json_path = os.path.join(work, f"perf-{backend}.json")
    events = ["task-clock", "context-switches", "raw_syscalls:sys_enter"]
    try:
        cmd = ["perf", "stat", "-x,", "-o", out, "-e", ",".join(events), "-p",
               str(server.pid), "--"]
        result = loads.run_bench(bench(port, "pingpong", json_path, extra=cmd,
                                       messages=messages), json_path, log, 300)
    finally:
        server.stop()
    counters = {}
    for line in open(out).read().splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] in events:
            try:
                counters[f[2]] = float(f[0])
            except ValueError:
                pass
    n = result["report"]["wire"]["messages_received"] if result["report"] else 0
    return n, counters


results = {case: {b: [] for b in BACKENDS} for case in chosen}
print(f"backends.sh: {runs} round(s), {duration:g} s each after {warmup:g} s of warm-up",
      file=sys.stderr)
for r in range(runs):
    order = BACKENDS if r % 2 == 0 else tuple(reversed(BACKENDS))
    for case in chosen:
        for backend in order:
            results[case][backend].append(one_run(case, backend, f"{case}-{backend}-{r}"))

med = {case: {b: {k: statistics.median(x[k] for x in results[case][b])
                  for k in results[case][b][0]} for b in BACKENDS} for case in chosen}
# The best run: highest rate, lowest latency and CPU per message.
LOWER_IS_BETTER = {"p50", "p99", "server_us", "client_us"}
best = {case: {b: {k: (min if k in LOWER_IS_BETTER else max)(x[k] for x in results[case][b])
                   for k in results[case][b][0]} for b in BACKENDS} for case in chosen}

syscalls, perf = {}, {}
if "pingpong" in chosen and subprocess.run(["sh", "-c", "command -v strace"],
                                           capture_output=True).returncode == 0:
    for b in BACKENDS:
        syscalls[b] = strace_counts(b, 100_000)
if "pingpong" in chosen and subprocess.run(["sh", "-c", "command -v perf"],
                                           capture_output=True).returncode == 0:
    for b in BACKENDS:
        perf[b] = perf_counts(b, 300_000)


def ratio(a, b):
    return f"{b / a:.2f}x" if a else "-"


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def col(case, b, key, spec):
    return ", ".join(format(x[key], spec) for x in results[case][b])


def row(case, key, label, spec, unit=""):
    e, u = med[case]["epoll"][key], med[case]["io_uring"][key]
    be, bu = best[case]["epoll"][key], best[case]["io_uring"][key]
    # Above 1 means io_uring does better, whichever way "better" goes for this figure.
    r = ratio(u, e) if key in LOWER_IS_BETTER else ratio(e, u)
    rb = ratio(bu, be) if key in LOWER_IS_BETTER else ratio(be, bu)
    return (f"{CASES[case]['title']}: {label}", f"{format(e, spec)}{unit}",
            f"{format(u, spec)}{unit}", r,
            f"{format(be, spec)} / {format(bu, spec)} ({rb})",
            f"{col(case, 'epoll', key, spec)} / {col(case, 'io_uring', key, spec)}")


rows = []
for case in chosen:
    unit = CASES[case]["unit"]
    if unit == "msgs/s":
        rows.append(row(case, "msgs", "msgs/s", ",.0f"))
    elif unit == "MB/s":
        rows.append(row(case, "mbs", "MB/s", ",.0f"))
    else:
        rows.append(row(case, "p50", "p50 latency", ".1f", " us"))
        rows.append(row(case, "p99", "p99 latency", ".1f", " us"))
    rows.append(row(case, "server_us", "server CPU per message", ".2f", " us"))
    rows.append(row(case, "client_us", "bench CPU per message (load generator)", ".2f", " us"))

loadavg = " ".join(open("/proc/loadavg").read().split()[:3])
heading = "## epoll against io_uring (bench/backends.sh)"
lines = [
    heading,
    "",
    "The same `netecho serve`, one worker thread pinned to CPU 0, `--backend epoll` against",
    "`--backend io_uring`, driven by one `netecho bench` thread pinned to CPU 1 (its own engine:",
    f"`--backend {client_backend}`, the same for both). Closed loop, every echoed byte checked;",
    f"{runs} rounds of {duration:g} s after {warmup:g} s of warm-up, the backends alternating,",
    "a fresh server per run. Medians, the best run of each backend, and every run (epoll /",
    "io_uring). Ratios compare io_uring with epoll, written so that above 1 means io_uring",
    "does better (more messages, less time).",
    "",
    "```",
    "taskset -c 0 netecho serve --tcp 127.0.0.1:PORT --threads 1 --backend epoll|io_uring",
    f"taskset -c 1 netecho bench tcp://127.0.0.1:PORT -t 1 -c C -s S -p P -d {duration:g}s "
    f"--warmup {warmup:g}s --backend {client_backend}",
    "```",
    "",
    f"- Machine: {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}; "
    f"load average at the end {loadavg}",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    "",
    "| figure | epoll | io_uring | io_uring vs epoll | best runs (ratio) | every run |",
    "|---|---|---|---|---|---|",
]
lines += ["| " + " | ".join(r) + " |" for r in rows]
if syscalls:
    lines += ["", "Where the difference comes from, 100 connections x 64 B ping-pong, per message "
              "echoed:", "", "| | epoll | io_uring |", "|---|---|---|"]
    per = {b: (sum(calls.values()) / n if n else 0.0, calls, n) for b, (n, calls) in syscalls.items()}
    lines.append(f"| system calls (strace -c -f) | {per['epoll'][0]:.3f} | {per['io_uring'][0]:.3f} |")
    for b in BACKENDS:
        _, calls, n = per[b]
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:4]
        per[b] = ", ".join(f"{k} {v / n:.3f}" for k, v in top) if n else "-"
    lines.append(f"| by call | {per['epoll']} | {per['io_uring']} |")
if perf:
    def pm(b, key, scale):
        n, c = perf[b]
        return c.get(key, 0.0) * scale / n if n else 0.0
    lines.append(f"| system calls (perf, raw_syscalls) | {pm('epoll', 'raw_syscalls:sys_enter', 1):.3f} "
                 f"| {pm('io_uring', 'raw_syscalls:sys_enter', 1):.3f} |")
    lines.append(f"| task-clock (perf stat) | {pm('epoll', 'task-clock', 1e3):.2f} us "
                 f"| {pm('io_uring', 'task-clock', 1e3):.2f} us |")
    lines.append(f"| context switches per 1,000 messages | {pm('epoll', 'context-switches', 1e3):.1f} "
                 f"| {pm('io_uring', 'context-switches', 1e3):.1f} |")
lines.append("")
section = "\n".join(lines)
print(section)
errors = sum(x["errors"] for case in chosen for b in BACKENDS for x in results[case][b])
if errors:
    sys.exit(f"backends.sh: bench reported {errors} error(s); see {log}")
if write:
    path = "docs/PERFORMANCE.md"
    text = open(path).read() if os.path.exists(path) else "# netecho performance\n\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = re.search(r"^## ", text[start + len(heading):], re.M)
        end = start + len(heading) + nxt.start() if nxt else len(text)
        text = text[:start] + section + ("\n" if nxt else "") + text[end:]
    open(path, "w").write(text)
    print(f"backends.sh: wrote the section to {path}", file=sys.stderr)
EOF
