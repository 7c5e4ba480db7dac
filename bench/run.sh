#!/usr/bin/env bash
# Runs the broker benchmark (zccpd vs nats-server vs Mosquitto) on this
# machine: installs Mosquitto from Debian when it is missing, then builds
# and runs bench/cmd/zccpbench, which prints a table per scenario and
# writes bench/results/bench.{csv,md,png}, then runs cmd/floodbench (bench/results/flood.md).
# Arguments go to zccpbench: ./run.sh -quick, ./run.sh -scenarios 1to1,1to10 ...
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH=/usr/local/go/bin:$PATH
fi
if [ ! -x /usr/sbin/mosquitto ] && ! command -v mosquitto >/dev/null 2>&1; then
  if [ -x ../scripts/ensure-deps.sh ]; then
    ../scripts/ensure-deps.sh mosquitto
  else
    echo "installing: mosquitto"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq mosquitto
  fi
fi
go run ./cmd/zccpbench "$@"
# The flood generator: no client library, open loop and at 80 % of
# nats-server's rate, loss beside throughput, 10k idle clients.
exec go run ./cmd/floodbench ${FLOOD_ARGS:--idle 10000 -idle-window 5s}
