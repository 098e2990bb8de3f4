"""docs/PERFORMANCE.md's sections: where a result was measured, and replacing one section."""

import os
import platform
import re
import time


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def provenance(command):
    """Two list lines: the machine (CPUs, model, kernel, load) and the date and command."""
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    return (f"- Machine: {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}; "
            f"load average {load} at the end\n"
            f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: "
            f"`{command}`")


def replace_section(path, heading, section):
    """Replaces the `## ` section that starts with heading (up to the next `## `) by section,
    or appends it; the rest of the file is kept."""
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
