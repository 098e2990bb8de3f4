"""The servers bench/compare measures: the peers people deploy today and netecho itself.

Each server says how to start it for one transport on one port, whether it announces itself
(`ready` line) or is waited for by its bound socket, and whether it forks per connection. Peers
that need building (Asio's examples, the Go peer) are built once per run into a temporary
directory; nothing they build is kept.
"""

import os
import re
import shutil
import subprocess

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)

# What the comparison installs from Debian when missing (scripts/setup-debian.sh --bench).
SETUP = os.path.join(ROOT, "scripts", "setup-debian.sh")


class Peer:
    """One row of the table.

    name:     the row's label
    protos:   transports it serves ("tcp", "udp")
    forking:  one process (or more) per connection or per UDP client
    ready:    "line" when it prints `listening ...` and `ready ...`, else "bound"
    backlog:  its TCP listen backlog, where it cannot be raised (ncat: 10, xinetd: 64): clients
              that open many connections keep fewer than this in progress at once
    """

    def __init__(self, name, protos, forking, ready, command, note="", backlog=4096):
        self.name = name
        self.protos = protos
        self.forking = forking
        self.ready = ready
        self.backlog = backlog
        self._command = command
        self.note = note
        self.netecho_backend = None

    def command(self, proto, port, tmp):
        return self._command(proto, port, tmp)


def _socat(proto, port, tmp):
    if proto == "tcp":
        return ["socat", f"TCP4-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096", "PIPE"]
    return ["socat", "-T", "5", f"UDP4-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", "PIPE"]


def _ncat(proto, port, tmp):
    # ncat accepts at most 100 connections at once unless told otherwise.
    udp = ["-u"] if proto == "udp" else []
    return ["ncat", *udp, "-l", "-k", "--max-conns", "19000", "--exec", "/bin/cat",
            "127.0.0.1", str(port)]


# xinetd's builtin echo, with every rate and instance limit lifted and nothing logged per
# connection. An UNLISTED service needs its port here, not in /etc/services.
_XINETD_CONF = """\
defaults
{{
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
	log_type = FILE {log}
	log_on_success =
	log_on_failure =
}}
service echo
{{
	id = echo-{proto}
	type = INTERNAL UNLISTED
	socket_type = {socket_type}
	protocol = {proto}
	wait = {wait}
	user = root
	bind = 127.0.0.1
	port = {port}
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
}}
"""


def _xinetd(proto, port, tmp):
    conf = os.path.join(tmp, f"xinetd-{proto}-{port}.conf")
    with open(conf, "w") as f:
        f.write(_XINETD_CONF.format(
            log=os.path.join(tmp, "xinetd.log"), proto=proto,
            socket_type="stream" if proto == "tcp" else "dgram",
            wait="no" if proto == "tcp" else "yes", port=port))
    return ["xinetd", "-dontfork", "-f", conf, "-pidfile", os.path.join(tmp, "xinetd.pid")]


def _asio(proto, port, tmp):
    return [os.path.join(tmp, f"asio_{proto}_echo"), str(port)]


def _go(proto, port, tmp):
    return [os.path.join(tmp, "go_echo"), str(port)]


def _node(proto, port, tmp):
    return ["node", os.path.join(BENCH, "peers", "node", "echo.js"), str(port)]


PEERS = [
    Peer("socat", ("tcp", "udp"), True, "bound", _socat,
         note="fork per connection (TCP) or per client address (UDP, -T 5)"),
    Peer("ncat", ("tcp", "udp"), True, "bound", _ncat, backlog=10,
         note="--exec /bin/cat: an ncat child and a cat per connection; listen backlog 10"),
    Peer("xinetd", ("tcp", "udp"), True, "bound", _xinetd, backlog=64,
         note="builtin echo; TCP forks per connection, UDP answered in the parent"),
    Peer("asio", ("tcp", "udp"), False, "bound", _asio,
         note="Asio's cpp11 async_tcp/udp_echo_server examples, g++ -O2"),
    Peer("go", ("tcp", "udp"), False, "line", _go,
         note="bench/peers/go/echo.go; io.Copy splices through a pipe, so each connection "
              "holds 3 descriptors"),
    Peer("node", ("tcp", "udp"), False, "line", _node, note="bench/peers/node/echo.js"),
]


def netecho_server(netecho, backend, has_backend_flag):
    """A row for `netecho serve --threads 1` on one backend."""

    def command(proto, port, tmp):
        flag = "--tcp" if proto == "tcp" else "--udp"
        cmd = [netecho, "serve", flag, f"127.0.0.1:{port}", "--threads", "1"]
        if proto == "udp":
            # The peers limit nothing; netecho's per-source UDP rate limit would otherwise cap
            # a benchmark that sends every datagram from 127.0.0.1.
            cmd += ["--udp-rate", "none"]
        if has_backend_flag:
            cmd += ["--backend", backend]
        return cmd

    peer = Peer(f"netecho {backend}", ("tcp", "udp"), False, "line", command)
    peer.netecho_backend = backend
    return peer


def install(log):
    """Installs the peers' Debian packages when missing (idempotent, quiet when present)."""
    subprocess.run(["bash", SETUP, "--bench"], check=True, stdout=log, stderr=log)


def _asio_example(proto):
    """The path of Asio's cpp11 async echo example for proto, from libasio-doc's file list."""
    files = subprocess.run(["dpkg", "-L", "libasio-doc"], check=True, capture_output=True,
                           text=True).stdout.split()
    want = re.compile(rf"/cpp11/echo/async_{proto}_echo_server\.cpp(\.gz)?$")
    found = sorted(f for f in files if want.search(f))
    if not found:
        raise RuntimeError(f"libasio-doc ships no cpp11 async_{proto}_echo_server.cpp")
    return found[0]


def build(tmp, log, names):
    """Builds the peers among names that need it, in parallel, into tmp. Returns
    {peer name: reason} for peers that could not be built."""
    jobs, failed = {}, {}
    env = dict(os.environ, GOCACHE=os.path.join(tmp, "gocache"),
               GOPATH=os.path.join(tmp, "gopath"), GOFLAGS="", GO111MODULE="auto")
    for proto in ("tcp", "udp") if "asio" in names else ():
        src = _asio_example(proto)
        if src.endswith(".gz"):
            plain = os.path.join(tmp, os.path.basename(src)[:-3])
            with open(plain, "wb") as out:
                subprocess.run(["gzip", "-dc", src], check=True, stdout=out)
            src = plain
        jobs[f"asio_{proto}"] = subprocess.Popen(
            ["g++", "-O2", "-std=c++17", "-pthread", "-o", os.path.join(tmp, f"asio_{proto}_echo"),
             src], stdout=log, stderr=log)
    if "go" in names:
        jobs["go"] = subprocess.Popen(
            ["go", "build", "-o", os.path.join(tmp, "go_echo"),
             os.path.join(BENCH, "peers", "go", "echo.go")],
            cwd=tmp, env=env, stdout=log, stderr=log)
    for name, proc in jobs.items():
        if proc.wait(timeout=600) != 0:
            failed[name.split("_")[0]] = f"{name} failed to build (see the log)"
    if "node" in names and not shutil.which("node"):
        failed["node"] = "node is not installed"
    return failed
