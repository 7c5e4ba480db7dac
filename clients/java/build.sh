#!/bin/sh
# Builds the library and its tests with javac and Debian's jars (no network,
# no Maven), then runs the suite against zccpd from $ZCCP_BIN_DIR.
#   ./build.sh          build build/zccp.jar
#   ./build.sh test     build and run the tests
set -eu
cd "$(dirname "$0")"
JEROMQ=/usr/share/java/jeromq.jar
JUNIT=/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar
rm -rf build/classes build/test-classes
mkdir -p build/classes build/test-classes
javac -Xlint:all -Werror --release 11 -d build/classes -cp "$JEROMQ" src/main/java/org/zccp/*.java
jar cf build/zccp.jar -C build/classes .
[ "${1:-}" = test ] || exit 0
javac -Xlint:all,-try --release 11 -d build/test-classes -cp "build/classes:$JEROMQ:$JUNIT" src/test/java/org/zccp/*.java
exec java -Dzccp.bin="${ZCCP_BIN_DIR:-../../bin}" -Dzccp.python="$(pwd)/../python" -Dzccp.cdevice="${ZCCP_C_DEVICE:-$(pwd)/../c/build/zccp_device}" -cp "build/test-classes:build/classes:$JEROMQ:$JUNIT" org.zccp.TestMain
