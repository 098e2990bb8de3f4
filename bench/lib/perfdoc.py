"""What the scripts that write docs/PERFORMANCE.md share: the checks before a pinned run, the
machine line of a section, and the splice that replaces one section of the file (under its own
`## ` heading), keeping every other section as it is."""

import os
import platform
import re
import shutil
import subprocess
import sys
import time

PERFORMANCE_MD = "docs/PERFORMANCE.md"


def preflight(name, netecho, tools=("taskset",)):
    """Exits with one line naming what is missing: the binary, a tool, or a second CPU (the
    server and bench each get one)."""
    if not os.access(netecho, os.X_OK):
        sys.exit(f"{name}: {netecho} not found; build first (scripts/build release)")
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit(f"{name}: {tool} is needed")
    if (os.cpu_count() or 1) < 2:
        sys.exit(f"{name}: needs two CPUs (server, bench); this machine has {os.cpu_count()}")


def uring_usable(netecho):
    """(usable, `serve --list-backends` output)."""
    out = subprocess.run([netecho, "serve", "--list-backends"], capture_output=True,
                         text=True).stdout
    return any(line.startswith("backend=io_uring usable=yes") for line in out.splitlines()), out


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine():
    """'N CPUs (model), Linux RELEASE', as every section states it."""
    return f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}"


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def now_utc():
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def write_section(heading, section, name, path=PERFORMANCE_MD):
    """Replaces the section under heading in path (up to the next `## ` heading), or appends
    it when there is none."""
    text = open(path).read() if os.path.exists(path) else "# netecho performance\n\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = re.search(r"^## ", text[start + len(heading):], re.M)
        end = start + len(heading) + nxt.start() if nxt else len(text)
        text = text[:start] + section + ("\n" if nxt else "") + text[end:]
    with open(path, "w") as f:
        f.write(text)
    print(f"{name}: wrote the section to {path}", file=sys.stderr)
