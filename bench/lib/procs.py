"""Server processes under test: start pinned, wait until ready, read CPU time and PSS, stop.

A benchmarked server is a process tree: forking peers (socat, ncat, xinetd) run one child or
two per connection. Every figure here is summed over the whole tree, found from /proc by
parent pid (this kernel has no /proc/PID/task/TID/children).

CPU time counts each live thread's run time from /proc/PID/task/TID/schedstat (nanoseconds:
utime+stime in /proc/PID/stat are whole clock ticks per process, and a hundred short-lived
children each below one tick would read as zero) plus each live process's cutime+cstime,
where the kernel adds the time of children once they are reaped. A reading is only exact when
no process of the tree is exiting while it is taken, so after a load the caller waits for the
tree to settle (Server.settle) before reading.
"""

import os
import random
import re
import resource
import selectors
import signal
import socket
import subprocess
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _raise_nofile():
    """Runs in every server before exec: the open-file soft limit goes up to the hard limit
    (20,000 here), so that no server is held back by it (Go and Node raise it themselves)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class StartError(Exception):
    """A server did not come up: the reason is its message."""


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (field 3, state, is index 0)."""
    data = _read(f"/proc/{pid}/stat")
    return data[data.rindex(b")") + 2 :].split()


def process_tree(root):
    """root and every descendant still in /proc (zombies included), root first."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _run_ns(pid):
    """The run time of a live process's threads, in nanoseconds (schedstat's first field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(_read(f"/proc/{pid}/task/{tid}/schedstat").split()[0])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended since the listing
    return total


def user_system_seconds(pid):
    """(user, system) CPU seconds of one process from /proc/PID/stat, in clock ticks' steps."""
    f = _stat_fields(pid)
    return int(f[11]) / CLK_TCK, int(f[12]) / CLK_TCK


def cpu_seconds(root):
    """CPU time of the tree's live threads plus what its reaped children used, in seconds."""
    seconds = 0.0
    for pid in process_tree(root):
        try:
            f = _stat_fields(pid)
            if f[0] in (b"Z", b"X"):
                # Not yet reaped: its parent will count it in cutime; its threads are gone.
                seconds += (int(f[11]) + int(f[12])) / CLK_TCK
            else:
                seconds += _run_ns(pid) / 1e9
            seconds += (int(f[13]) + int(f[14])) / CLK_TCK
        except OSError:
            continue  # exited since the listing
    return seconds


_PSS = re.compile(rb"^Pss:\s+(\d+) kB", re.M)


def pss_kib(root):
    """(PSS in KiB summed over the tree, processes counted) from /proc/PID/smaps_rollup."""
    total, count = 0, 0
    for pid in process_tree(root):
        try:
            m = _PSS.search(_read(f"/proc/{pid}/smaps_rollup"))
        except OSError:
            continue
        if m:
            total += int(m.group(1))
            count += 1
    return total, count


def pid_headroom():
    """How many more processes the machine can start before kernel.pid_max is reached."""
    pid_max = int(_read("/proc/sys/kernel/pid_max"))
    used = sum(1 for name in os.listdir("/proc") if name.isdigit())
    return pid_max - used


def _bound(proto, port):
    """True when some socket is bound to port: a TCP listener, or any UDP socket."""
    want_state = "0A" if proto == "tcp" else "07"
    for path in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            lines = _read(path).decode().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == want_state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def free_port(low=20000, high=32000):
    """A port free for both TCP and UDP on 127.0.0.1, below the ephemeral range (32768+),
    so that the benchmark clients' own ports cannot collide with it."""
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(
            socket.AF_INET, socket.SOCK_DGRAM
        ) as u:
            try:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _bound("tcp", port) and not _bound("udp", port):
            return port
    raise StartError("no free port found in 200 tries")


class Server:
    """One server process tree, started in its own session (so its process group holds every
    child it forks) and pinned to one CPU with taskset.

    ready is "line" (the server prints `listening ...` lines and then `ready ...`), "bound"
    (a peer that says nothing: wait until the kernel shows the port bound) or "none" (the caller
    waits for it its own way: a server in another network namespace, whose sockets this
    namespace's /proc/net does not show)."""

    def __init__(self, cmd, ready, proto, port, cpu, log_path, cwd=None):
        self.cmd = ["taskset", "-c", str(cpu)] + list(cmd)
        self.ready = ready
        self.proto = proto
        self.port = port
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None
        self.lines = []
        self._drain = None

    def start(self, timeout=20.0):
        log = open(self.log_path, "ab")
        log.write(("$ " + " ".join(self.cmd) + "\n").encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.ready == "line" else log,
            stderr=log,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_raise_nofile,
        )
        log.close()
        deadline = time.monotonic() + timeout
        try:
            if self.ready == "line":
                self._wait_line(deadline)
            elif self.ready == "bound":
                self._wait_bound(deadline)
        except StartError:
            self.stop()
            raise

    def _wait_line(self, deadline):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StartError(f"no 'ready' line within the start timeout: {self.lines}")
            if not sel.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise StartError(
                    f"exited with {self.proc.wait()} before 'ready' (log: {self.log_path})"
                )
            buf += chunk
            *done, buf = buf.split(b"\n")
            for raw in done:
                line = raw.decode(errors="replace").strip()
                self.lines.append(line)
                if line.startswith("ready"):
                    sel.close()
                    self._drain_to_log(buf)
                    return

    def _drain_to_log(self, pending):
        """Copies whatever the server prints after `ready` to its log, so that it can never
        block on a full pipe."""
        def copy(fd, path, first):
            with open(path, "ab") as log:
                log.write(first)
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        return
                    log.write(chunk)

        self._drain = threading.Thread(
            target=copy, args=(self.proc.stdout.fileno(), self.log_path, pending), daemon=True)
        self._drain.start()

    def _wait_bound(self, deadline):
        # These peers announce nothing, so the kernel's socket table is polled, with the
        # process's own exit as the early way out.
        while not _bound(self.proto, self.port):
            if time.monotonic() > deadline:
                raise StartError(f"port {self.port}/{self.proto} not bound within the timeout")
            try:
                code = self.proc.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                continue
            raise StartError(f"exited with {code} before binding (log: {self.log_path})")

    def listening_port(self, proto):
        """The port of the first `listening proto=PROTO` line (servers with ready="line")."""
        for line in self.lines:
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            if line.startswith("listening") and fields.get("proto") == proto:
                return int(fields["port"])
        return self.port

    def settle(self, processes, timeout):
        """Waits, at most timeout seconds, until the tree is back to at most `processes`
        processes (a forking server's per-connection children have exited and been reaped).
        Returns True if it settled."""
        deadline = time.monotonic() + timeout
        while len(process_tree(self.proc.pid)) > processes:
            if time.monotonic() > deadline:
                return False
            try:
                self.proc.wait(timeout=0.02)
                return False  # the server itself exited
            except subprocess.TimeoutExpired:
                continue
        return True

    def ready_fields(self):
        for line in self.lines:
            if line.startswith("ready"):
                return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        return {}

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        """The root process still runs (not exited, not a zombie)."""
        if self.proc.poll() is not None:
            return False
        try:
            return _stat_fields(self.proc.pid)[0] not in (b"Z", b"X")
        except OSError:
            return False

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def pss_kib(self):
        return pss_kib(self.proc.pid)

    def stop(self, grace=5.0):
        """SIGTERM to the process group (the server and every child it forked), a bounded
        wait for the root, then SIGKILL to the group for whatever is left."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if self._drain is not None:
            self._drain.join(timeout=grace)
        if self.proc.stdout:
            self.proc.stdout.close()
