#!/usr/bin/env python3
"""deploy/k8s without a cluster: every manifest parsed (python3-yaml) and cross-checked with the
binary just built. This is the weaker check the issue allows: no API server validates the
schemas (`kubectl apply/create --dry-run=client --validate=false` still asks the API server for
its resource list: the kubectl 1.32 of the development machine dials localhost:8080 and fails;
Debian 12's kubernetes-client 1.20 was not tried, as installing it would replace that one), so
only the fields netecho relies on are checked, but those against the real binary:
  - the Deployment runs non-root, read-only root file system, with requests and limits; its
    image is dist/container's tag for this version;
  - the container's args are run for real (addresses moved to 127.0.0.1:0): serve starts with
    them, and the readiness and liveness probes' paths answer 200 on the metrics listener;
  - the Service's ports name container ports of the same protocol, TCP and UDP both;
  - the Service and the PodDisruptionBudget select the Deployment's pods;
  - the Job is Indexed, runs its pods at once, targets the Service's TCP port by its name, and
    every bench flag it passes is one `netecho bench --help` lists, with --json=- (the logs
    carry the documents).
Each check also runs once on a manifest broken on purpose, which it must reject.

usage: k8s_test.py NETECHO_BINARY DEPLOY_K8S_DIR
"""
import copy
import glob
import http.client
import os
import re
import signal
import subprocess
import sys
import time

import yaml


def load(folder):
    docs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    docs[doc["kind"]] = doc
    return docs


def help_flags(binary, sub):
    text = subprocess.run([binary, sub, "--help"], capture_output=True, text=True,
                          check=True, timeout=10).stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", text))


def flag_names(args):
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def command_problems(binary, args, sub):
    """The container runs `netecho SUB` with flags that SUB's --help lists."""
    problems = [] if args[0] == sub else [f"the container does not run {sub}"]
    unknown = set(flag_names(args[1:])) - help_flags(binary, sub)
    if unknown:
        problems.append(f"{sub} has no {sorted(unknown)}")
    return problems


def pod_of(doc):
    return doc["spec"]["template"]["spec"]


def probe_live(binary, args, paths):
    """Runs the container's args with every address on 127.0.0.1:0, reads the listening lines
    and GETs each probe path from the metrics listener. Returns the problems found."""
    local = [re.sub(r"=0\.0\.0\.0:\d+$", "=127.0.0.1:0", a) for a in args]
    proc = subprocess.Popen([binary] + local, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    problems = []
    try:
        ports = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "http" not in ports:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening proto=(\w+) host=\S+ port=(\d+)", line)
            if m:
                ports[m.group(1)] = int(m.group(2))
        if "http" not in ports:
            return ["serve with the Deployment's args did not start its metrics listener: " +
                    proc.stderr.read() if proc.poll() is not None else "no metrics listener"]
        for proto in ("tcp", "udp"):
            if proto not in ports:
                problems.append(f"serve with the Deployment's args has no {proto} listener")
        for path in paths:
            conn = http.client.HTTPConnection("127.0.0.1", ports["http"], timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status != 200:
                problems.append(f"probe {path} answers {status}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return problems


def check(docs, binary, version, live):
    problems = []
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "Job"):
        if kind not in docs:
            problems.append(f"no {kind}")
    if problems:
        return problems
    dep, svc, pdb, job = (docs[k] for k in ("Deployment", "Service", "PodDisruptionBudget", "Job"))

    pod = pod_of(dep)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if dep["spec"]["selector"]["matchLabels"].items() - labels.items():
        problems.append("the Deployment's selector does not select its pods")
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append("the Deployment's pods may run as root")
    (c,) = pod["containers"]
    if c["image"] != f"netecho:{version}":
        problems.append(f"image {c['image']} is not dist/container's netecho:{version}")
    sc = c.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("the root file system is writable")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("privilege escalation is allowed")
    for what in ("requests", "limits"):
        if not {"cpu", "memory"} <= c.get("resources", {}).get(what, {}).keys():
            problems.append(f"no cpu and memory {what}")
    args = c["args"]
    problems += command_problems(binary, args, "serve")
    ports = {p["name"]: p for p in c["ports"]}
    probes = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    for probe, path in probes.items():
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path:
            problems.append(f"{probe} is not GET {path}")
        if get.get("port") not in ports:
            problems.append(f"{probe} port {get.get('port')} is no container port")
    metrics_arg = next((a for a in args if a.startswith("--metrics=")), "")
    metrics_port = ports.get("metrics", {}).get("containerPort")
    if not metrics_arg.endswith(f":{metrics_port}"):
        problems.append(f"--metrics ({metrics_arg}) is not on the metrics port {metrics_port}")
    for flag, proto in (("--tcp=", "TCP"), ("--udp=", "UDP")):
        arg = next((a for a in args if a.startswith(flag)), "")
        if not any(arg.endswith(f":{p['containerPort']}") and p.get("protocol", "TCP") == proto
                   for p in c["ports"]):
            problems.append(f"{flag}... ({arg}) has no {proto} container port")

    protocols = set()
    for p in svc["spec"]["ports"]:
        target = ports.get(p["targetPort"])
        if target is None or target.get("protocol", "TCP") != p.get("protocol", "TCP"):
            problems.append(f"Service port {p['name']} targets no {p.get('protocol')} port")
        protocols.add(p.get("protocol", "TCP"))
    if not {"TCP", "UDP"} <= protocols:
        problems.append("the Service lacks the TCP or the UDP port")
    for doc in (svc, pdb):
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        if selector.items() - labels.items():
            problems.append(f"the {doc['kind']} does not select the Deployment's pods")

    spec = job["spec"]
    if spec.get("completionMode") != "Indexed":
        problems.append("the Job is not Indexed")
    if spec.get("parallelism") != spec.get("completions"):
        problems.append("the Job's pods do not run at once")
    (b,) = pod_of(job)["containers"]
    bargs = b["args"]
    problems += command_problems(binary, bargs, "bench")
    if "--json=-" not in bargs:
        problems.append("the Job's pods do not print their JSON (--json=-)")
    tcp_port = next(p["port"] for p in svc["spec"]["ports"] if p.get("protocol", "TCP") == "TCP")
    if bargs[1] != f"tcp://{svc['metadata']['name']}:{tcp_port}":
        problems.append(f"the Job targets {bargs[1]}, not the Service's TCP port")
    if pod_of(job).get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append("the Job's pods may run as root")

    if live and not problems:
        problems += probe_live(binary, args, probes.values())
    return problems


def main():
    binary, folder = sys.argv[1], sys.argv[2]
    version = subprocess.run([binary, "-V"], capture_output=True, text=True, check=True,
                             timeout=10).stdout.split()[1]
    docs = load(folder)
    problems = check(docs, binary, version, live=True)
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if problems:
        return 1
    # Every rule must be able to fail: each breakage below must be reported.
    breakages = [
        ("Deployment", lambda d: pod_of(d)["containers"][0]["securityContext"].pop(
            "readOnlyRootFilesystem")),
        ("Deployment", lambda d: pod_of(d)["containers"][0]["readinessProbe"]["httpGet"].update(
            path="/ready")),
        ("Deployment", lambda d: pod_of(d)["containers"][0]["args"].append("--no-such-flag")),
        ("Deployment", lambda d: pod_of(d)["securityContext"].pop("runAsNonRoot")),
        ("Service", lambda d: d["spec"]["ports"][1].update(protocol="TCP")),
        ("PodDisruptionBudget", lambda d: d["spec"]["selector"]["matchLabels"].update(app="x")),
        ("Job", lambda d: pod_of(d)["containers"][0]["args"].remove("--json=-")),
        ("Job", lambda d: d["spec"].pop("completionMode")),
    ]
    for kind, breakage in breakages:
        broken = copy.deepcopy(docs)
        breakage(broken[kind])
        if not check(broken, binary, version, live=False):
            print(f"FAIL: a broken {kind} passed the check", file=sys.stderr)
            return 1
    # The live probe check, too, must see a wrong path.
    if not probe_live(binary, pod_of(docs["Deployment"])["containers"][0]["args"], ["/ready"]):
        print("FAIL: the live probe check accepted /ready", file=sys.stderr)
        return 1
    print(f"deploy/k8s: {len(docs)} manifests checked (parsed and cross-checked, no API server)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
