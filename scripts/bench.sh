#!/usr/bin/env bash
# Runs the benchmarks behind docs/benchmarks.md on this machine, over loopback only:
# builds `switchboard` and `switchboard-bench` in release, installs the Node peers
# (bench/peers: `ws` and Socket.IO, `npm ci` from the committed lock file, skipped when
# already installed), then measures idle memory per connection, fan-out throughput and
# paced latency against switchboard, its bare echo and the peers, and prints a table. Every count is bounded and
# every step stops by itself; the measuring part is capped at 5 minutes.
#
# Arguments go to switchboard-bench, e.g.:
#   scripts/bench.sh --json                     # the report as JSON on stdout
#   scripts/bench.sh --connections 2000 --subscribers 200
#   scripts/bench.sh --switchboard-arg=--ws-read-buffer=256
# The JSON report is always written to target/bench/report.json as well.
set -euo pipefail
cd "$(dirname "$0")/.."

# 10,000 idle connections need 10,000 files in the load generator (the server is a
# separate process with its own limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "==> building release binaries" >&2
cargo build --release --locked -p switchboard -p switchboard-bench >&2

echo "==> installing the Node peers (bench/peers)" >&2
command -v node >/dev/null || { echo "bench.sh: node is required for the peer" >&2; exit 1; }
if [ ! -f bench/peers/node_modules/.package-lock.json ] ||
   [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
    (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

mkdir -p target/bench
echo "==> measuring (node $(node --version), $(nproc) CPUs, open files $(ulimit -n))" >&2
exec timeout --signal=INT --kill-after=10 300 \
    target/release/switchboard-bench \
    --switchboard target/release/switchboard \
    --node-ws-script bench/peers/ws-broadcast.js \
    --socketio-script bench/peers/socketio-broadcast.js \
    --json-out target/bench/report.json \
    "$@"
