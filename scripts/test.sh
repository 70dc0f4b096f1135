#!/usr/bin/env bash
# Runs every test switchboard has, on a fresh machine: installs what the tests need
# (Debian packages, npm packages), checks formatting and lints, then runs the suites.
# CI calls exactly this script (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Loopback load tests open thousands of sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

step "npm packages for the third-party client tests (tests/node)"
# npm ci only when the lockfile is newer than the install (or nothing is installed).
if [ ! -f tests/node/node_modules/.package-lock.json ] ||
    [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
    npm ci --prefix tests/node --no-audit --no-fund
fi

step "headless Chromium and playwright-core for the dashboard's browser tests (tests/browser)"
# The browser tests drive Debian's chromium (never a downloaded browser); a test run
# without it fails loudly rather than skipping.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if [ ! -f tests/browser/node_modules/.package-lock.json ] ||
    [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
    npm ci --prefix tests/browser --no-audit --no-fund
fi

step "Python prometheus-client, the outside parser /metrics is checked with (tests/prometheus)"
# Checked by importing it, so a half-finished earlier install is completed.
if ! target/promvenv/bin/python -c 'import prometheus_client' 2>/dev/null; then
    python3 -m venv target/promvenv
    target/promvenv/bin/pip install --quiet prometheus-client==0.26.0
fi

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit and integration tests"
cargo test --workspace --locked

echo
echo "all suites passed"
