#!/usr/bin/env bash
# `make docker`: builds the broker image (gregor:latest, FROM scratch) from
# static binaries compiled here, then the local zookeeper:3.8 image when that
# tag is missing (build-zookeeper.sh). No image is pulled from a registry.
#
# Environment: GO (go), GREGOR_IMAGE (gregor:latest), ZK_IMAGE (zookeeper:3.8).
set -euo pipefail
cd "$(dirname "$0")"

go=${GO:-go}
image=${GREGOR_IMAGE:-gregor:latest}

# Stage the image's files: one static, stripped binary holding every main
# package under tools/ plus the entrypoint and the health check (multicall/),
# a symbolic link per command, and an empty data directory.
rm -rf build
mkdir -p build/bin build/data
cmds=()
for dir in ../tools/*/; do
  name=$(basename "$dir")
  # Commands only: tools/internal and any other library directory are skipped.
  if grep -qs '^package main$' "$dir"*.go; then cmds+=("$name=$dir"); fi
done
cmds+=(docker-entrypoint=./entrypoint broker-healthcheck=./healthcheck)
"$go" run ./multicall -go "$go" -o build/bin/gregor -work build/_multicall "${cmds[@]}"
for c in "${cmds[@]}"; do ln -s gregor "build/bin/${c%%=*}"; done
echo "build: gregor ($(du -m build/bin/gregor | cut -f1) MB) with ${#cmds[@]} commands: ${cmds[*]%%=*}"

# BuildKit needs the buildx plugin with recent Docker clients; without it the
# classic builder does the same job for a FROM scratch image.
builder=()
if ! docker buildx version >/dev/null 2>&1; then
  builder=(env DOCKER_BUILDKIT=0)
fi
old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
"${builder[@]}" docker build -q -t "$image" . >/dev/null
# The previous build, now untagged, would pile up as a <none> image.
if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
  docker image rm "$old" >/dev/null 2>&1 || true
fi
echo "build: built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}'))"

./build-zookeeper.sh
