#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time ($1, default 5s).
# The seed corpora under testdata/fuzz run as ordinary tests in `go test`; this
# adds a little fresh exploration on every CI run.
set -euo pipefail
fuzztime=${1:-5s}
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
