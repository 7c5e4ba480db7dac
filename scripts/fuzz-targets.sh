#!/usr/bin/env bash
# Lists the fuzz targets of the main module as "./pkg:FuzzName".
set -euo pipefail
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | grep -v -e '^./interop/' -e '^./bench/' | sort | while read -r f; do
  dir="./$(dirname "${f#./}")"
  grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\)' "$f" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' | while read -r name; do
    echo "$dir:$name"
  done
done
