#!/usr/bin/env bash
# The systemd units in dist/systemd: `systemd-analyze verify` reports nothing about them, and
# `systemd-analyze security --offline=true` rates netecho.service 2.0 or lower ("OK").
#
# usage: units_test.sh NETECHO_BINARY UNITS_DIR
#
# Works without systemd as PID 1 (containers): both commands only read unit files. verify checks
# that ExecStart's binary exists, so the units are checked as copies, in a temporary directory,
# whose ExecStart= names the binary just built instead of /usr/bin/netecho. Each check is also
# run once on a unit broken on purpose, which it must reject, so that a check that has stopped
# seeing anything cannot pass. systemd-analyze comes from Debian's systemd package
# (scripts/setup-debian.sh); without it the test fails, it does not skip.
set -euo pipefail

max_exposure=2.0
installed_path=/usr/bin/netecho

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ $# -eq 2 ]] || fail "usage: $0 NETECHO_BINARY UNITS_DIR"
binary=$1
units=$2
[[ -x $binary ]] || fail "no netecho binary at $binary"
[[ -f $units/netecho.service && -f $units/netecho.socket ]] || fail "no units in $units"
command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze not found: install Debian's systemd package (scripts/setup-debian.sh)"
systemd-analyze --version | head -n 1

# Plain, complete output: no colours, no pager, every warning.
export SYSTEMD_COLORS=0 SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER=cat SYSTEMD_LOG_LEVEL=info LC_ALL=C

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netecho-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# copy_units DIR: the units into DIR, ExecStart= pointing at the binary under test.
copy_units() {
  mkdir -p "$1"
  cp "$units/netecho.socket" "$1/"
  sed "s#^ExecStart=$installed_path #ExecStart=$binary #" "$units/netecho.service" \
    >"$1/netecho.service"
  grep -q "^ExecStart=$binary serve" "$1/netecho.service" ||
    fail "netecho.service has no 'ExecStart=$installed_path serve' line to check"
}

# verify DIR: passes when systemd-analyze verify exits 0 and prints nothing at all (an unknown
# or misspelled directive is only a warning, "Unknown key ..., ignoring", with exit status 0).
# --man=no: no man page lookup; --recursive-errors=no: only these units, not the state of the
# host's own units (sockets.target and the rest of the dependency tree).
verify() {
  local out rc=0
  out=$(cd "$1" && systemd-analyze verify --man=no --recursive-errors=no \
    ./netecho.service ./netecho.socket 2>&1) || rc=$?
  if [[ $rc -ne 0 || -n $out ]]; then
    printf 'systemd-analyze verify (exit %d):\n%s\n' "$rc" "$out" >&2
    return 1
  fi
}

# exposure DIR: prints netecho.service's overall exposure level (e.g. 1.1), and on stderr the
# report's lines that count against it (all of it when systemd-analyze fails); fails when
# systemd-analyze exits non-zero, which --threshold makes it do above max_exposure (the
# threshold is in tenths: 20 means 2.0). In the C locale a passed check is marked '+', a
# failed one '-'.
exposure() {
  local out rc=0 level
  out=$(cd "$1" && systemd-analyze security --offline=true --no-pager \
    --threshold="$(awk -v m="$max_exposure" 'BEGIN { print int(m * 10 + 0.5) }')" \
    ./netecho.service 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then
    printf '%s\n' "$out" | grep -v '^+ ' >&2 || true
  else
    printf '%s\n' "$out" >&2
  fi
  level=$(printf '%s\n' "$out" |
    sed -n 's/.*Overall exposure level for netecho\.service: \([0-9][0-9.]*\).*/\1/p')
  [[ -n $level ]] || fail "no 'Overall exposure level' line in systemd-analyze security's output"
  echo "$level"
  return "$rc"
}

above_max() {  # above_max LEVEL
  awk -v l="$1" -v m="$max_exposure" 'BEGIN { exit !(l > m) }'
}

# --- verify ---
copy_units "$tmp/good"
verify "$tmp/good" || fail "systemd-analyze verify reports the units above"
echo "ok: systemd-analyze verify reports nothing on netecho.service and netecho.socket"

copy_units "$tmp/typo"
sed -i 's/^Type=notify$/Tpye=notify/' "$tmp/typo/netecho.service"
grep -q '^Tpye=notify$' "$tmp/typo/netecho.service" || fail "could not break the unit (Type=)"
if verify "$tmp/typo" 2>/dev/null; then
  fail "systemd-analyze verify did not report a misspelled directive (Tpye=notify)"
fi
copy_units "$tmp/typo-socket"
sed -i 's/^ListenDatagram=/ListenDatagramm=/' "$tmp/typo-socket/netecho.socket"
if verify "$tmp/typo-socket" 2>/dev/null; then
  fail "systemd-analyze verify did not report a misspelled directive (ListenDatagramm=)"
fi
echo "ok: systemd-analyze verify reports a misspelled directive in either unit"

# --- security ---
level=$(exposure "$tmp/good") || fail "systemd-analyze security rates netecho.service" \
  "${level:-?} (above $max_exposure, or it failed): see its report above"
above_max "$level" && fail "netecho.service is rated $level, above $max_exposure"
echo "ok: systemd-analyze security rates netecho.service $level (at most $max_exposure)"

# The same unit without its sandbox (everything after the first section comment) must rate
# worse than the threshold and make systemd-analyze fail: the check can see a regression.
mkdir -p "$tmp/bare"
awk '/^# --- /{skip=1} /^\[Install\]/{skip=0} !skip' "$tmp/good/netecho.service" \
  >"$tmp/bare/netecho.service"
grep -q '^DynamicUser=' "$tmp/bare/netecho.service" && fail "could not strip the sandbox"
if bare=$(exposure "$tmp/bare" 2>/dev/null); then
  fail "systemd-analyze security --threshold passed the unit without its sandbox (rated $bare)"
fi
if [[ -z ${bare:-} ]] || ! above_max "$bare"; then
  fail "the unit without its sandbox is rated '${bare:-?}', not above $max_exposure"
fi
echo "ok: the same unit without its sandbox is rated $bare and fails the check"

echo "PASS: netecho.service and netecho.socket verify cleanly; exposure $level (OK at <= $max_exposure)"
