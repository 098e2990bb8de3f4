#!/usr/bin/env bash
# Installs every Debian package that netecho's build, tests and benchmarks need.
# Idempotent: when everything is present it only runs dpkg-query and returns at once.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build pkg-config git ca-certificates
  liburing-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  # STAMP's authenticated mode: HMAC-SHA-256 from OpenSSL's libcrypto (src/stamp/hmac.cpp)
  libssl-dev
  # bench --hdr-log deflates HdrHistogram's encoding
  zlib1g-dev
  # tests
  libgtest-dev python3 procps iproute2
  # clang preset, sanitizers and fuzzing
  clang-14 libclang-rt-14-dev
  # llvm-symbolizer, so that a sanitizer or fuzzer report names functions and lines
  llvm-14
  # real peers for the interop tests
  socat ncat
  # hardening tests: prlimit, and a short leak check under valgrind
  util-linux valgrind
  # systemd-analyze (verify and rate dist/systemd's units) and systemd-socket-activate (the
  # socket-activation tests); neither needs systemd as PID 1
  systemd
  # the generated man pages and completions (tests/dist/docs_test.sh): groff and man check the
  # pages; bash with bash-completion, fish and zsh run the completions
  groff-base man-db bash-completion fish zsh
  # the Debian package (scripts/build-deb, tests/dist/deb_test.sh): build it, lint it, and
  # install it into a brand-new Debian 12 root made by debootstrap (dpkg-buildpackage checks
  # for build-essential)
  build-essential debhelper dpkg-dev fakeroot lintian debootstrap
  # the container image (dist/container, tests/dist/container_test.sh): build it and run it
  podman
  # promtool (integration.MetricsTools): checks serve --metrics's real exposition
  prometheus
  # the real balancers before serve --tcp-proxy (integration.Haproxy.*, integration.Nginx.*):
  # HAProxy, and nginx with its stream module (TCP with the PROXY header, and UDP)
  haproxy nginx libnginx-mod-stream
  # the XDP fast path (src/io/xdp/, cmake/netecho_bpf.cmake): clang-14 above compiles the BPF
  # program, bpftool makes its skeleton, libbpf loads it; linux-libc-dev has the UAPI headers it
  # includes
  libbpf-dev bpftool linux-libc-dev
  # ethtool: the XDP tests (tests/integration/xdp_test.cpp) turn TX checksum offload off on the
  # client's veth end, whose frames the server's program turns around
  ethtool
  # Scapy's STAMP layer (scapy.contrib.stamp): the independent peer of the STAMP interop tests
  # (tests/integration/stamp_scapy.py)
  python3-scapy
  # tests/dist/k8s_test.py parses deploy/k8s's manifests
  python3-yaml
  # bench --hdr-log's test decodes the log with hdr-histogram-js (tests/hdr-js/setup.sh installs
  # it from the npm registry into tests/hdr-js/node_modules)
  nodejs
)
# npm for that set-up: Debian's, unless one is already there (NodeSource's nodejs package bundles
# npm and conflicts with Debian's).
command -v npm >/dev/null || packages+=(npm)
# With --bench, also what bench/compare needs: the peers it measures netecho against (Asio's
# examples ship in libasio-doc and are built at benchmark time), taskset, strace and perf.
if [[ ${1:-} == --bench ]]; then
  packages+=(xinetd libasio-dev libasio-doc golang-go nodejs util-linux strace linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

# Test-only, not from Debian: hdr-histogram-js, the independent decoder of bench --hdr-log.
hdr_js() {
  bash "$(dirname "$0")/../tests/hdr-js/setup.sh"
}

if ((${#missing[@]} == 0)); then
  hdr_js
  exit 0
fi

echo "setup-debian: installing ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
hdr_js
