#!/usr/bin/env bash
# Bounded soak of the broker over loopback (tcp 127.0.0.1 and abstract
# ipc): builds zccpd and the soak driver (soak/), runs the load for
# -duration (default 10m), samples the broker's RSS and goroutine count
# into a CSV, prints the curve, and exits 1 if either grows, if anything
# is left behind once every client has gone, if a stable subscriber lost a
# message, or if SIGTERM does not stop the broker in time.
#
#   scripts/soak.sh                     # 10 minutes
#   scripts/soak.sh -duration 60s       # a quick run
#   SOAK_DIR=/tmp/soak scripts/soak.sh  # where binaries and soak.csv go (default bin/soak)
#
# Any argument is passed to the driver; `go run ./soak -h` lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
export PATH="$(dirname "$GO"):$PATH"  # the driver builds zccpd with the go on PATH
out=${SOAK_DIR:-bin/soak}
mkdir -p "$out"
CGO_ENABLED=0 "$GO" build -o "$out/zccpd" ./cmd/zccpd
"$GO" build -o "$out/zccp-soak" ./soak
exec "$out/zccp-soak" -zccpd "$out/zccpd" -csv "$out/soak.csv" "$@"
