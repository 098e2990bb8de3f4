#!/usr/bin/env bash
# The Debian package: scripts/build-deb builds netecho_VERSION_ARCH.deb out of tree (one more
# build of the project, with Debian's flags), lintian reports no error and no warning (those
# left are overridden in debian/netecho.lintian-overrides, each with its reason), and the
# package holds what it promises: the binary, five man pages, three completions, the units,
# the docs and a DEP-5 copyright file.
#
# usage: deb_test.sh SOURCE_DIR OUT_DIR VERSION
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $# -eq 3 ]] || fail "usage: $0 SOURCE_DIR OUT_DIR VERSION"
src=$1
out=$2
version=$3
arch=$(dpkg --print-architecture)
deb=$out/netecho_${version}_${arch}.deb

t0=$SECONDS
"$src/scripts/build-deb" "$out" >/dev/null
[[ -f $deb ]] || fail "no $deb after scripts/build-deb"
echo "ok: built $(basename "$deb") in $((SECONDS - t0)) s"

t0=$SECONDS
# --fail-on warning: every warning must be fixed or overridden with its reason. Root is fine
# here (a test machine), so lintian's note about it is dropped.
lintian --fail-on error,warning --display-info "$out/netecho_${version}_${arch}.changes" 2>&1 |
  grep -v 'running with root privileges' || true
lintian --fail-on error,warning -q "$out/netecho_${version}_${arch}.changes" >/dev/null 2>&1 ||
  fail "lintian reports errors or warnings (above)"
echo "ok: lintian: no errors, no warnings left without an override ($((SECONDS - t0)) s)"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for path in /usr/bin/netecho \
  /usr/share/man/man1/netecho.1.gz /usr/share/man/man1/netecho-serve.1.gz \
  /usr/share/man/man1/netecho-send.1.gz /usr/share/man/man1/netecho-ping.1.gz \
  /usr/share/man/man1/netecho-bench.1.gz \
  /usr/share/bash-completion/completions/netecho /usr/share/zsh/vendor-completions/_netecho \
  /usr/share/fish/vendor_completions.d/netecho.fish \
  /lib/systemd/system/netecho.service /lib/systemd/system/netecho.socket \
  /usr/share/doc/netecho/copyright /usr/share/doc/netecho/README.md.gz \
  /usr/share/doc/netecho/OPERATIONS.md.gz; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done
echo "ok: the package holds the binary, man pages, completions, units and docs"

# The maintainer scripts enable the service and leave the socket alone (debian/rules).
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst)
# (tests/dist/fresh_install_test.sh checks the resulting symlinks on a real install.)
grep -q "enable 'netecho.service'" <<<"$postinst" || fail "postinst does not enable netecho.service"
grep -q "was-enabled 'netecho.socket'" <<<"$postinst" ||
  fail "postinst does not keep netecho.socket as the administrator left it"
echo "ok: postinst enables netecho.service; netecho.socket only if it was enabled before"
dpkg-deb -f "$deb" Version | grep -qxF "$version" || fail "package version is not $version"
