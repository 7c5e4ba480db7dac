#!/usr/bin/env bash
# Runs the C client's tests against a zccpd built from this repository,
# the whole run under valgrind (every C process: the test program and the
# zccp_sh / original-API programs it starts). Usage: tests/run.sh BUILD_DIR [FILTER]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
root=$(cd "$here/../.." && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

mkdir -p "$build/bin"
(cd "$root" && "$GO" build -o "$build/bin/" ./cmd/zccpd ./cmd/zccp)

export ZCCP_TESTDIR=$(mktemp -d "$build/testrun.XXXXXX")
export ZCCPD=$build/bin/zccpd ZCCP_CLI=$build/bin/zccp
export ZCCP_SH=$build/zccp_sh ZCCP_ORIGINAL=$build/original_api ZCCP_DEVICE=$build/zccp_device ZCCP_CALL=$build/zccp_call
# The Python client's device and call commands (Debian's python3 sees
# Debian's pyzmq)
export ZCCP_PYTHON=${ZCCP_PYTHON:-/usr/bin/python3} ZCCP_PYTHONPATH=$root/clients/python
valgrind=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible
          --suppressions="$here/tests/valgrind.supp")
if [ "${ZCCP_NO_VALGRIND:-}" = 1 ]; then valgrind=(); fi
if [ ${#valgrind[@]} -gt 0 ]; then
  export ZCCP_WRAP="$(command -v valgrind) ${valgrind[*]:1}"
else
  export ZCCP_WRAP=
fi
rc=0
"${valgrind[@]}" "$build/zccp_test" ${2:+"$2"} || rc=$?
if [ $rc -ne 0 ]; then
  echo "C tests failed (exit $rc; 99 = valgrind errors); logs in $ZCCP_TESTDIR"
  exit 1
fi
rm -rf "$ZCCP_TESTDIR"
