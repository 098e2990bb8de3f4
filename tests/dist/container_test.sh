#!/usr/bin/env bash
# The container image (dist/container): built from scratch with podman (no base image pulled),
# checked for a numeric non-root user, the default ports, the entry point and the health check;
# then run with the host's network, where `netecho send` must get its echo and the image's own
# health check must pass. Where podman cannot build even a one-file image, or cannot run a
# container, on this machine, the test skips (exit 77) printing podman's exact error.
#
# usage: container_test.sh NETECHO_BINARY SOURCE_DIR
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ $# -eq 2 ]] || fail "usage: $0 NETECHO_BINARY SOURCE_DIR"
bin=$1
src=$2
command -v podman >/dev/null || fail "podman not found (scripts/setup-debian.sh installs it)"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: rootless podman is not set up by scripts/setup-debian.sh; run as root"
  exit 77
fi

tag=localhost/netecho-test:$$
name=netecho-test-$$
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Can podman build anything here? A one-file image from scratch: when even that fails, the
# machine (its storage driver, a chroot, a sandbox) stands in the way, not our Containerfile.
probe=$(mktemp -d)
echo netecho >"$probe/f"
printf 'FROM scratch\nCOPY f /f\n' >"$probe/Containerfile"
if ! probe_err=$(podman build --quiet --tag "$tag-probe" --file "$probe/Containerfile" "$probe" 2>&1); then
  rm -rf "$probe"
  echo "SKIP: podman cannot build an image here: $(printf '%s' "$probe_err" | tail -n 3 | tr '\n' ' ')"
  exit 77
fi
rm -rf "$probe"
podman rmi -f "$tag-probe" >/dev/null 2>&1 || true

t0=$SECONDS
"$src/dist/container/build-image" "$bin" "$tag" >/dev/null || fail "podman build failed"
echo "ok: image built from scratch in $((SECONDS - t0)) s, $(podman image inspect --format '{{.Size}}' "$tag") bytes"

inspect() { podman image inspect --format "$1" "$tag"; }
[[ $(inspect '{{.Config.User}}') == 65532:65532 ]] || fail "user is '$(inspect '{{.Config.User}}')', want 65532:65532"
ports=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
[[ $ports == *12345/tcp* && $ports == *34254/udp* ]] || fail "exposed ports: $ports"
[[ $(inspect '{{json .Config.Entrypoint}}') == '["/usr/bin/netecho"]' ]] || fail "entry point: $(inspect '{{json .Config.Entrypoint}}')"
health=$(podman image inspect --format '{{json .Healthcheck}}' "$tag" 2>/dev/null || inspect '{{json .Config.Healthcheck}}')
[[ $health == *netecho*send* ]] || fail "no health check running netecho send: $health"
layers=$(inspect '{{len .RootFS.Layers}}')
[[ $layers == 1 ]] || fail "$layers layers: the image should be one layer on nothing (FROM scratch)"
echo "ok: user 65532, ports $ports, entry point netecho, health check: netecho send"

# Run with the host's network on ephemeral ports, reading the container's stdout as it comes:
# its "listening" lines, then "ready". Its end of file before "ready" means it never ran.
err=$(mktemp)
trap 'cleanup; rm -f "$err"' EXIT
exec 3< <(exec podman run --rm --name "$name" --network host "$tag" \
  serve --tcp 127.0.0.1:0 --udp-reverse 127.0.0.1:0 --threads 1 2>"$err")
port=
ready=
while :; do
  rc=0
  IFS= read -r -t 30 line <&3 || rc=$?
  ((rc == 0)) || break
  if [[ $line == "listening proto=tcp "* ]]; then
    port=${line##*port=}
    port=${port%% *}
  elif [[ $line == ready* ]]; then
    ready=1
    break
  fi
done
if [[ -z $ready ]]; then
  ((rc <= 128)) || fail "no ready line from the container within 30 s: $(cat "$err")"
  # netecho's own complaint fails the test; anything else is podman failing to run it here.
  grep -q '^netecho:' "$err" && fail "netecho in the container did not start: $(cat "$err")"
  echo "SKIP: podman cannot run a container here: $(grep -v 'level=error msg="Removing timer' "$err" | tr '\n' ' ')"
  exit 77
fi
[[ -n $port ]] || fail "no TCP listening line from the container"
reply=$("$bin" send "127.0.0.1:$port") || fail "netecho send to the container: $reply"
[[ $reply == "Received [0, 1, 2, 3]" ]] || fail "netecho send said '$reply'"
echo "ok: netecho send 127.0.0.1:$port against the container: $reply"
podman healthcheck run "$name" || fail "the image's health check failed against a serving container"
echo "ok: podman healthcheck run: healthy"
podman stop -t 10 "$name" >/dev/null
echo "ok: the container stopped on SIGTERM"
