#!/usr/bin/env bash
# make demo: zccpd with the dashboard, a simulated data center (zccp demo)
# and the overload consumer (examples/overload) reacting to it. Prints the
# dashboard URL; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin}
EP=${DEMO_ENDPOINT:-ipc://@/zccp-demo}
HTTP=${DEMO_HTTP:-127.0.0.1:7879}
RACKS=${DEMO_RACKS:-4}
DATA=${DEMO_DATA:-$BIN/demo-data}
mkdir -p "$BIN" "$DATA"
$GO build -o "$BIN/" ./cmd/zccpd ./cmd/zccp ./examples/overload
pids=()
# Stop in reverse order: the clients before the broker.
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; sleep 0.2; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
"$BIN/zccpd" --bind "$EP" --http-addr "$HTTP" --data-dir "$DATA" --log-level warn &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://$HTTP/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$HTTP/readyz" >/dev/null || { echo "zccpd did not become ready" >&2; exit 1; }
"$BIN/zccp" demo --endpoint "$EP" --racks "$RACKS" &
pids+=($!)
ZCCP_ENDPOINT="$EP" "$BIN/overload" --threshold 3000 2>&1 | sed -u 's/^/overload: /' &
pids+=($!)
cat <<MSG

  Dashboard:  http://$HTTP/
  Live view:  $BIN/zccp top --endpoint $EP
  Try:        $BIN/zccp call --endpoint $EP --group "" --label kind=pdu status
              $BIN/zccp last --endpoint $EP '^temp\.'

  Rack r2 overheats; the overload consumer switches its outlets off.
  Ctrl-C stops the demo.

MSG
wait
