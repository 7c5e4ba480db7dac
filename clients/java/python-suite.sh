#!/bin/sh
# Runs the Python client's cross-language matrix and device conformance
# tests with the Java device and caller added ($ZCCP_PEERS, see
# clients/python/tests/harness.py): Java -> Go/Python devices, Go/Python ->
# Java device, and the Java device's conformance. Only the tests that
# involve Java run here (make test-python runs the rest).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cp="$here/build/zccp.jar:/usr/share/java/jeromq.jar"
peers="$(mktemp /tmp/zccp-java-peers-XXXXXX.json)"
trap 'rm -f "$peers"' EXIT
cat >"$peers" <<JSON
{
  "devices": {"java": ["java", "-cp", "$cp", "org.zccp.Main", "device", "--endpoint", "{endpoint}", "--id", "{id}"]},
  "callers": {"java": ["java", "-cp", "$cp", "org.zccp.Main", "call", "--endpoint", "{endpoint}", "--timeout", "5", "{id}", "{method}", "{body}"]}
}
JSON
cd "$here/../python"
ZCCP_PEERS="$peers" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/test_requests.py tests/test_conformance.py -k java
