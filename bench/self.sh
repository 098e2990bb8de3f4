#!/usr/bin/env bash
# "bench must not be the bottleneck": one `netecho bench` thread must drive more messages per
# second than one core of the server can answer.
#
# `netecho serve --threads 1` runs pinned to CPU 0 and `netecho bench -t 1` pinned to CPU 1,
# 100 connections x 64 B, closed loop, pipeline 1, RUNS times (fresh bench each run, one
# server). For each run it records msgs/s, bench's CPU time per message (from bench's --json,
# getrusage over the measured run) and the server's (utime + stime from /proc/PID/stat around
# the run), and how busy each CPU was. The medians are printed as a Markdown section; with
# --write, that section replaces the one under the same heading in docs/PERFORMANCE.md (other
# sections are kept).
#
# Usage: bench/self.sh [--write]
# Environment: NETECHO (binary, default build/release/src/netecho), RUNS (5), DURATION (5s),
#              WARMUP (1s), BACKEND (auto: the server's), BENCH_BACKEND (bench's; default
#              BACKEND), SERVER_CPU (0), BENCH_CPU (1).
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
runs=${RUNS:-5}
duration=${DURATION:-5s}
warmup=${WARMUP:-1s}
backend=${BACKEND:-auto}
bench_backend=${BENCH_BACKEND:-$backend}
server_cpu=${SERVER_CPU:-0}
bench_cpu=${BENCH_CPU:-1}
connections=100
size=64

[[ -x $bin ]] || { echo "self.sh: $bin not found; build first (scripts/build release)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "self.sh: taskset (util-linux) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "self.sh: python3 is needed" >&2; exit 1; }
if (($(nproc) < 2)); then
  echo "self.sh: needs two CPUs (one for the server, one for bench); nproc says $(nproc)" >&2
  exit 1
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The server announces its port on stdout; read it through a FIFO, with a deadline, no polling.
mkfifo "$work/server.out"
taskset -c "$server_cpu" "$bin" serve --tcp 127.0.0.1:0 --threads 1 --backend "$backend" \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
exec 3<"$work/server.out"
port=
server_backend=
while read -r -t 10 line <&3; do
  case $line in
    "listening proto=tcp "*) port=${line#*port=}; port=${port%% *} ;;
    "ready "*) server_backend=${line#*backend=}; server_backend=${server_backend%% *}; break ;;
  esac
done
[[ -n $port ]] || { echo "self.sh: the server did not start:" >&2; cat "$work/server.err" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
server_cpu_ticks() {
  # Fields 14 and 15 of /proc/PID/stat (utime, stime); the command name in field 2 has no
  # spaces here ("netecho").
  awk '{print $14 + $15}' "/proc/$server_pid/stat"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
server_line="taskset -c $server_cpu netecho serve --tcp 127.0.0.1:0 --threads 1 --backend $backend"
command_line="taskset -c $bench_cpu netecho bench tcp://127.0.0.1:PORT -c $connections -s $size -t 1 -d $duration --warmup $warmup --backend $bench_backend"
for ((i = 1; i <= runs; i++)); do
  before=$(server_cpu_ticks)
  taskset -c "$bench_cpu" "$bin" bench "tcp://127.0.0.1:$port" -c "$connections" -s "$size" \
    -t 1 -d "$duration" --warmup "$warmup" --backend "$bench_backend" --json "$work/run$i.json" \
    >"$work/run$i.txt"
  after=$(server_cpu_ticks)
  echo "$before $after" >"$work/run$i.cpu"
  python3 - "$work/run$i.json" <<'EOF' >&2
import json, sys
d = json.load(open(sys.argv[1]))
print(f"run: {d['throughput']['messages_per_s']:,.0f} msgs/s, "
      f"bench {d['cpu']['per_message_us']:.2f} us CPU per message, "
      f"p50 {d['latency_ns']['p50'] / 1000:.1f} us, p99 {d['latency_ns']['p99'] / 1000:.1f} us, "
      f"errors {d['errors']['total']}")
EOF
done

python3 - "$work" "$runs" "$ticks" "$server_line" "$command_line" "$server_backend" "$write" \
  "$load_before" <<'EOF'
import json, os, platform, re, statistics, sys, time

work, runs, ticks, server_command, command, server_backend, write, load_before = sys.argv[1:9]
runs, ticks, write = int(runs), int(ticks), write == "true"
rows = []
for i in range(1, runs + 1):
    d = json.load(open(f"{work}/run{i}.json"))
    before, after = map(int, open(f"{work}/run{i}.cpu").read().split())
    wire = d["wire"]["messages_received"]
    # Server CPU is read around the whole bench process (connect, warm-up, run, drain), so it
    # is divided by every message on the wire; bench's figure covers the same span.
    server_cpu_s = (after - before) / ticks
    span_s = d["parameters"]["warmup_s"] + d["run"]["elapsed_s"]
    bench_cpu_s = d["cpu"]["user_s"] + d["cpu"]["system_s"]
    rows.append({
        "msgs": d["throughput"]["messages_per_s"],
        "bench_us": d["cpu"]["per_message_us"],
        "server_us": server_cpu_s * 1e6 / wire if wire else 0.0,
        "bench_busy": bench_cpu_s / span_s if span_s else 0.0,
        "server_busy": server_cpu_s / span_s if span_s else 0.0,
        "p50": d["latency_ns"]["p50"] / 1000,
        "p99": d["latency_ns"]["p99"] / 1000,
        "errors": d["errors"]["total"],
        "backend": d["parameters"]["backend"],
    })
med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "backend"}

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"

def col(key, spec):
    return ", ".join(format(r[key], spec) for r in rows)

loadavg = open("/proc/loadavg").read().split()[:3]
# The decisive test is which CPU saturates first: a bench that is not the bottleneck leaves its
# own CPU some idle time while the server's is full. When neither is (a busy machine shares
# both CPUs with other work), fall back to comparing CPU time per message, which then includes
# wake-ups that a saturated process would not pay.
b, sv = med["bench_busy"], med["server_busy"]
if b >= 0.9 and sv >= 0.9 and abs(b - sv) < 0.03:
    verdict = (f"a tie: both CPUs were saturated (bench {b:.0%}, server {sv:.0%} busy), and per "
               f"message bench needed {med['bench_us']:.2f} us of CPU against the server's "
               f"{med['server_us']:.2f} us ({med['bench_us'] / med['server_us']:.2f}x)")
elif sv >= 0.9 and b < sv:
    verdict = (f"bench is not the bottleneck: the server's CPU was saturated ({sv:.0%}) while "
               f"bench's was {b:.0%} busy")
elif b >= 0.9 and sv < b:
    verdict = (f"bench IS the bottleneck: its CPU was saturated ({b:.0%}) while the server's "
               f"was {sv:.0%} busy")
else:
    cmp = "less" if med["bench_us"] < med["server_us"] else "as much or more"
    verdict = (f"inconclusive, neither CPU was saturated (bench {b:.0%}, server {sv:.0%} busy: "
               f"other work shared the CPUs); per message bench needed {cmp} CPU than the "
               f"server ({med['bench_us']:.2f} us against {med['server_us']:.2f} us)")
lines = [
    "## bench must not be the bottleneck",
    "",
    "One `netecho bench` thread against one `netecho serve` thread, each pinned to its own CPU:",
    f"100 connections x 64 B, closed loop, pipeline 1, {runs} runs, medians. Measured by",
    "`bench/self.sh` (`bench/self.sh --write` rewrites this section).",
    "",
    "```",
    server_command,
    command,
    "```",
    "",
    f"- Machine: {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}; "
    f"load average {load_before} before, {' '.join(loadavg)} after",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; server backend: {server_backend}",
    "",
    "| figure | median | runs |",
    "|---|---|---|",
    f"| msgs/s | {med['msgs']:,.0f} | {col('msgs', ',.0f')} |",
    f"| bench CPU per message | {med['bench_us']:.2f} us | {col('bench_us', '.2f')} |",
    f"| server CPU per message | {med['server_us']:.2f} us | {col('server_us', '.2f')} |",
    f"| bench CPU busy | {med['bench_busy'] * 100:.0f} % | {col('bench_busy', '.0%')} |",
    f"| server CPU busy | {med['server_busy'] * 100:.0f} % | {col('server_busy', '.0%')} |",
    f"| latency p50 / p99 | {med['p50']:.1f} / {med['p99']:.1f} us | |",
    f"| errors | {sum(r['errors'] for r in rows)} | |",
    "",
    f"Verdict: {verdict}.",
    "",
]
section = "\n".join(lines)
print(section)
if write:
    path = "docs/PERFORMANCE.md"
    text = open(path).read() if os.path.exists(path) else "# netecho performance\n\n"
    heading = "## bench must not be the bottleneck"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = re.search(r"^## ", text[start + len(heading):], re.M)
        end = start + len(heading) + nxt.start() if nxt else len(text)
        text = text[:start] + section + ("\n" if nxt else "") + text[end:]
    open(path, "w").write(text)
    print(f"self.sh: wrote the section to {path}", file=sys.stderr)
EOF
