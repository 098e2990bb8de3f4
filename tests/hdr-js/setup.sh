#!/usr/bin/env bash
# Test-only: installs hdr-histogram-js (the version package-lock.json pins, checked against its
# integrity hash) into tests/hdr-js/node_modules, for
# integration.Bench.HdrLogDecodesWithHdrHistogramJs. Called by scripts/setup-debian.sh; needs
# nodejs and npm. Idempotent.
#
# The npm registry is the one thing the set-up fetches from outside Debian. When it cannot be
# reached (no network, or a TLS-intercepting proxy whose CA npm is not given), the reason is
# kept in .unavailable and the test skips, naming it; nothing else depends on this package, so
# the rest of the set-up goes on. Without that file a missing package fails the test.
set -euo pipefail
cd "$(dirname "$0")"
rm -f .unavailable
if [[ -f node_modules/hdr-histogram-js/package.json ]]; then
  exit 0
fi
if ! out=$(npm ci --no-audit --no-fund --ignore-scripts 2>&1); then
  reason=$(printf '%s\n' "$out" | grep -m1 -E 'npm ERR! (request|code|network)' || true)
  printf 'npm ci failed: %s\n' "${reason:-$(printf '%s\n' "$out" | tail -n1)}" >.unavailable
  echo "setup-debian: hdr-histogram-js not installed ($(cat .unavailable)); the --hdr-log" \
    "decoding test will skip, naming this" >&2
fi
