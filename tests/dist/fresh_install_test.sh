#!/usr/bin/env bash
# The package on a brand-new Debian 12: a minimal bookworm root made by debootstrap (cached as a
# tarball, from this machine's apt mirror), the .deb installed there with apt (which fetches
# its dependencies), then in a chroot: `netecho --version`, `man -w netecho-serve`, a serve +
# send round trip, the service enabled and the socket not.
#
# usage: fresh_install_test.sh DEB VERSION
# Needs root (debootstrap, chroot, bind mounts); otherwise it skips (exit 77). The cache lives
# in $NETECHO_FRESH_CACHE (default /var/tmp/netecho-fresh-debian); delete it to start over.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ $# -eq 2 ]] || fail "usage: $0 DEB VERSION"
deb=$(realpath "$1")
version=$2
[[ -f $deb ]] || fail "no package at $deb (the dist.deb test builds it)"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root for debootstrap and chroot (running as $(id -un))"
  exit 77
fi
command -v debootstrap >/dev/null || fail "debootstrap not found (scripts/setup-debian.sh installs it)"

cache=${NETECHO_FRESH_CACHE:-/var/tmp/netecho-fresh-debian}
mkdir -p "$cache"
mirror=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  grep -v security | head -n1 | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//' || true)
[[ -n $mirror ]] || fail "no apt mirror found in /etc/apt"
t0=$SECONDS
if [[ ! -f $cache/base.tar ]]; then
  rm -rf "$cache/base"
  mkdir -p "$cache/base"
  debootstrap --variant=minbase bookworm "$cache/base" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $(tail -n 5 "$cache/debootstrap.log")"
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -f $f ]] && cp "$f" "$cache/base$f"
  done
  cp /etc/resolv.conf "$cache/base/etc/resolv.conf" 2>/dev/null || true
  tar -C "$cache/base" -cf "$cache/base.tar.new" . && mv "$cache/base.tar.new" "$cache/base.tar"
  rm -rf "$cache/base"
  echo "ok: debootstrap made a minimal bookworm root in $((SECONDS - t0)) s (cached)"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/netecho-fresh.XXXXXX")
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$cache/base.tar"
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m"
  mount --bind "/$m" "$root/$m"
  mounted+=("$root/$m")
done
cp "$deb" "$root/tmp/netecho.deb"
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -c "$1"
}

t0=$SECONDS
# man-db, to ask where the page is; the package itself pulls only its libraries.
in_root 'apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/netecho.deb man-db' \
  >"$root/../netecho-fresh-apt.log" 2>&1 || fail "apt-get install failed: $(tail -n 20 "$root/../netecho-fresh-apt.log")"
rm -f "$root/../netecho-fresh-apt.log"
echo "ok: installed into a fresh bookworm root in $((SECONDS - t0)) s"

got=$(in_root 'netecho -V')
[[ $got == "netecho $version" ]] || fail "netecho -V says '$got', want 'netecho $version'"
echo "ok: $got"
page=$(in_root 'man -w netecho-serve') || fail "man -w netecho-serve found no page"
[[ $page == /usr/share/man/man1/netecho-serve.1.gz ]] || fail "man -w netecho-serve: $page"
echo "ok: man -w netecho-serve: $page"

# Serve on an ephemeral port, read the port from its listening line, send the default bytes.
reply=$(in_root '
  exec 3< <(exec netecho serve --tcp 127.0.0.1:0 --threads 1 2>/tmp/serve.err)
  pid=$!
  read -r -t 10 line <&3 || { echo "no listening line: $(cat /tmp/serve.err)"; exit 1; }
  port=${line##*port=}; port=${port%% *}
  netecho send "127.0.0.1:$port"; rc=$?
  kill -TERM "$pid"; wait "$pid" || true
  exit $rc') || fail "serve + send round trip: $reply"
[[ $reply == "Received [0, 1, 2, 3]" ]] || fail "netecho send said '$reply'"
echo "ok: serve + send round trip: $reply"

[[ -L $root/etc/systemd/system/multi-user.target.wants/netecho.service ]] ||
  fail "netecho.service is not enabled after install"
[[ ! -e $root/etc/systemd/system/sockets.target.wants/netecho.socket ]] ||
  fail "netecho.socket is enabled after install (port 7 must stay the administrator's choice)"
echo "ok: netecho.service enabled, netecho.socket installed but not enabled"
