#!/bin/sh
# The cross-language request matrix (issue 14): every requester language
# (Go `zccp call`, Python `python3 -m zccp call`, C clients/c/build/zccp_call,
# Java org.zccp.Main call) against every device language (Go `zccp device`,
# Python `python3 -m zccp device`, C zccp_device, Java org.zccp.Main device),
# and each device's conformance, in one pytest run of the Python suite's
# table-driven tests (clients/python/tests/harness.py: load_peers and
# $ZCCP_PEERS). Prints the 4x4 matrix and "N passed, N failed"; any cell not
# green fails the run. Expects zccpd/zccp in $ZCCP_BIN_DIR, the C programs
# and the Java jar built (make test-matrix does that).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
cbuild="$root/clients/c/build"
cp="$root/clients/java/build/zccp.jar:/usr/share/java/jeromq.jar"
for f in "$cbuild/zccp_device" "$cbuild/zccp_call" "$root/clients/java/build/zccp.jar"; do
  [ -e "$f" ] || { echo "test-matrix: $f is not built (run make test-matrix)" >&2; exit 1; }
done
peers="$(mktemp /tmp/zccp-matrix-peers-XXXXXX.json)"
trap 'rm -f "$peers"' EXIT
cat >"$peers" <<JSON
{
  "devices": {
    "c": ["$cbuild/zccp_device", "--endpoint", "{endpoint}", "--id", "{id}"],
    "java": ["java", "-cp", "$cp", "org.zccp.Main", "device", "--endpoint", "{endpoint}", "--id", "{id}"]
  },
  "callers": {
    "c": ["$cbuild/zccp_call", "--endpoint", "{endpoint}", "--timeout", "5", "{id}", "{method}", "{body}"],
    "java": ["java", "-cp", "$cp", "org.zccp.Main", "call", "--endpoint", "{endpoint}", "--timeout", "5", "{id}", "{method}", "{body}"]
  }
}
JSON
cd "$root/clients/python"
ZCCP_PEERS="$peers" ZCCP_MATRIX_LANGS="c go java python" PYTHONPATH="$root/clients/python/tests" \
  "${PYTHON:-/usr/bin/python3}" -m pytest -q -p no:cacheprovider -p matrix_report \
  tests/test_requests.py::test_cross_language_matrix tests/test_conformance.py::test_device_conformance
