#!/usr/bin/env python3
"""Does a Prometheus scrape cost the echo path anything? (issue 15)

One `netecho serve --threads 1 --metrics` pinned to CPU 0 (its worker and its main thread,
which answers /metrics, share that CPU: the worst case for interference), one
`netecho bench -t 1` pinned to CPU 1 at a fixed open-loop rate, RUNS rounds. Each round runs
the same load twice, in alternating order: once with no scraper, once with a scraper on CPU 1
that GETs /metrics SCRAPES_PER_S times per second (Prometheus's default is once per 15 s, so 10
per second is 150 times a busy production setting). The table gives the medians of bench's
latency percentiles for each case, the server's CPU time per message, and what one scrape
costs: its response time and size, and the server CPU it adds.

Usage: bench/scrape.py [--write]    (--write replaces this section in docs/PERFORMANCE.md)
Environment: NETECHO (binary, default build/release/src/netecho), RUNS (5), DURATION (5),
             RATE (20000 messages/s), CONNS (50), SCRAPES_PER_S (10), BACKEND (auto).
"""

import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import loads  # noqa: E402
import perfdoc  # noqa: E402
import procs  # noqa: E402

HEADING = "## Metrics scrapes against echo latency (bench/scrape.py)"


class Scraper(threading.Thread):
    """GETs /metrics at a fixed rate until stopped; records each scrape's time and size."""

    def __init__(self, port, per_second):
        super().__init__(daemon=True)
        self.port = port
        self.interval = 1.0 / per_second
        self.stopping = threading.Event()
        self.times_s = []
        self.sizes = []
        self.errors = 0

    def run(self):
        next_at = time.monotonic()
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                conn = http.client.HTTPConnection(loads.HOST, self.port, timeout=5)
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status != 200:
                    raise OSError(f"status {resp.status}")
                self.times_s.append(time.monotonic() - start)
                self.sizes.append(len(body))
            except OSError:
                self.errors += 1
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


def one_load(netecho, server, tcp_port, metrics_port, scrapes_per_s, env, tmp, log):
    scraper = None
    if scrapes_per_s:
        scraper = Scraper(metrics_port, scrapes_per_s)
        scraper.start()
    json_path = os.path.join(tmp, "bench.json")
    cmd = loads.bench_cmd(netecho, "tcp", tcp_port, env["conns"], 64, 1, json_path,
                          duration=env["duration"], warmup=1, rate=env["rate"], cpu=1)
    cpu_before = server.cpu_seconds()
    result = loads.run_bench(cmd, json_path, log, limit_s=env["duration"] + 30)
    cpu_after = server.cpu_seconds()
    if scraper:
        scraper.stop()
    report = result["report"]
    if result["exit"] != 0 or report is None:
        raise RuntimeError(f"bench failed ({result['exit']}); see {log}")
    lat = report["latency_ns"]
    messages = report["messages"] if "messages" in report else report["totals"]["messages"]
    return {
        "p50_us": lat["p50"] / 1000, "p99_us": lat["p99"] / 1000, "p99_9_us": lat["p99_9"] / 1000,
        "server_cpu_s": cpu_after - cpu_before, "messages": messages,
        "scrapes": len(scraper.times_s) if scraper else 0,
        "scrape_ms": [t * 1000 for t in scraper.times_s] if scraper else [],
        "scrape_bytes": scraper.sizes[-1] if scraper and scraper.sizes else 0,
        "scrape_errors": scraper.errors if scraper else 0,
    }


def main():
    write = sys.argv[1:] == ["--write"]
    if sys.argv[1:] and not write:
        print(f"usage: {sys.argv[0]} [--write]", file=sys.stderr)
        return 2
    netecho = os.environ.get("NETECHO", "build/release/src/netecho")
    if not os.access(netecho, os.X_OK):
        print(f"scrape.py: {netecho} not found; build first (scripts/build release)",
              file=sys.stderr)
        return 1
    env = {"runs": int(os.environ.get("RUNS", "5")),
           "duration": float(os.environ.get("DURATION", "5")),
           "rate": int(os.environ.get("RATE", "20000")),
           "conns": int(os.environ.get("CONNS", "50")),
           "scrapes": int(os.environ.get("SCRAPES_PER_S", "10"))}
    backend = os.environ.get("BACKEND", "auto")
    os.sched_setaffinity(0, {1})  # this script (and its scraper thread) stays off the server's CPU
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        server = procs.Server([netecho, "serve", "--tcp", f"{loads.HOST}:0", "--threads", "1",
                               "--backend", backend, "--metrics", f"{loads.HOST}:0"],
                              "line", "tcp", 0, 0, log)
        server.start()
        try:
            tcp_port = server.listening_port("tcp")
            metrics_port = server.listening_port("http")
            rows = {"none": [], "scraped": []}
            for r in range(env["runs"]):
                order = [0, env["scrapes"]] if r % 2 == 0 else [env["scrapes"], 0]
                for per_s in order:
                    row = one_load(netecho, server, tcp_port, metrics_port, per_s, env, tmp, log)
                    rows["scraped" if per_s else "none"].append(row)
                    print(f"round {r + 1}: scrapes/s {per_s}: p99 {row['p99_us']:.1f} us, "
                          f"{row['scrapes']} scrapes", file=sys.stderr)
            backend_used = server.ready_fields().get("backend", backend)
        finally:
            server.stop()
    text = markdown(rows, env, backend_used)
    print(text)
    if write:
        perfdoc.replace_section("docs/PERFORMANCE.md", HEADING, text)
    return 0


def markdown(rows, env, backend):
    def med(case, key):
        return statistics.median(r[key] for r in rows[case])

    def cpu_per_msg_ns(case):
        return statistics.median(r["server_cpu_s"] / r["messages"] * 1e9 for r in rows[case])

    scrape_ms = sorted(t for r in rows["scraped"] for t in r["scrape_ms"])
    scrapes = sum(r["scrapes"] for r in rows["scraped"])
    errors = sum(r["scrape_errors"] for r in rows["scraped"])
    extra_cpu_s = (statistics.median(r["server_cpu_s"] for r in rows["scraped"])
                   - statistics.median(r["server_cpu_s"] for r in rows["none"]))
    per_round = statistics.median(r["scrapes"] for r in rows["scraped"])
    lines = [
        HEADING, "",
        perfdoc.provenance(f"bench/scrape.py (RUNS={env['runs']} DURATION={env['duration']:g} "
                           f"RATE={env['rate']} CONNS={env['conns']} "
                           f"SCRAPES_PER_S={env['scrapes']})"),
        "",
        f"`serve --threads 1 --backend {backend} --metrics` pinned to CPU 0 (the worker and "
        f"the main thread that answers /metrics share it), `bench -t 1` pinned to CPU 1, "
        f"{env['conns']} connections x 64 B, open loop at {env['rate']:,} messages/s; "
        f"medians of {env['runs']} rounds, the two cases alternating within each round.",
        "",
        "| scraper | p50 (µs) | p99 (µs) | p99.9 (µs) | server CPU per message (ns) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for case, label in (("none", "none"), ("scraped", f"{env['scrapes']} scrapes/s")):
        lines.append(f"| {label} | {med(case, 'p50_us'):.1f} | {med(case, 'p99_us'):.1f} | "
                     f"{med(case, 'p99_9_us'):.1f} | {cpu_per_msg_ns(case):.0f} |")
    if scrape_ms:
        p50 = scrape_ms[len(scrape_ms) // 2]
        p99 = scrape_ms[min(len(scrape_ms) - 1, int(len(scrape_ms) * 0.99))]
        lines += ["",
                  f"One scrape: {rows['scraped'][-1]['scrape_bytes']:,} bytes, answered in "
                  f"{p50:.2f} ms (median) and {p99:.2f} ms (p99) over {scrapes} scrapes, "
                  f"{errors} failed; the server's CPU time per round grew by "
                  f"{extra_cpu_s * 1000:.1f} ms with the scraper, "
                  f"{extra_cpu_s / per_round * 1e6 if per_round else 0:.0f} µs per scrape "
                  f"(the difference of two medians of a noisy figure: an estimate)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
