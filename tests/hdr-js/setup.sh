#!/usr/bin/env bash
# Test-only: installs hdr-histogram-js (the version package-lock.json pins) into
# tests/hdr-js/node_modules, for integration.Bench.HdrLogDecodesWithHdrHistogramJs. Called by
# scripts/setup-debian.sh; needs Debian's nodejs and npm. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -f node_modules/hdr-histogram-js/package.json ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts >/dev/null
