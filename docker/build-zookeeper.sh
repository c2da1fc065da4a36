#!/usr/bin/env bash
# Builds a local image tagged zookeeper:3.8 from Debian's ZooKeeper 3.8 packages,
# for machines that reach no image registry. It does nothing when the tag is
# already present, so a user who pulled the official image keeps it and the
# same docker-compose.yml works for both.
#
# Steps: debootstrap a minimal bookworm root filesystem with libzookeeper-java
# and a headless JRE (cached as a tarball under docker/.cache, git-ignored),
# `docker import` it as the base, then layer docker/zookeeper/ on top: an
# entrypoint that honours ZOO_MY_ID / ZOO_SERVERS as the official image does.
#
# Needs root (debootstrap, chroot) and Debian's mirrors. Environment:
#   ZK_IMAGE       tag to build            (zookeeper:3.8)
#   DEBIAN_MIRROR  mirror for debootstrap  (http://deb.debian.org/debian)
#   FORCE=1        rebuild even if the tag exists
set -euo pipefail
cd "$(dirname "$0")"

image=${ZK_IMAGE:-zookeeper:3.8}
base=gregor/zookeeper-rootfs:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=$PWD/.cache
rootfs_tar=$cache/zookeeper-rootfs-bookworm.tar

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-zookeeper: $image already present; not building (FORCE=1 rebuilds)"
  exit 0
fi

sudo=
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi

if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || $sudo apt-get install -y -qq debootstrap >/dev/null
  mkdir -p "$cache/debs"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap '$sudo rm -rf "$work"' EXIT
  # libzookeeper-java, not the zookeeper package: the latter depends on
  # default-jre (the full, X11-linked JRE) only for its init scripts.
  echo "build-zookeeper: debootstrap bookworm (minbase + JRE + ZooKeeper) from $mirror"
  $sudo debootstrap --variant=minbase --cache-dir="$cache/debs" \
    --include=openjdk-17-jre-headless,libzookeeper-java \
    bookworm "$work/root" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
      tail -30 "$cache/debootstrap.log"; exit 1; }
  # Trim what a server never reads: package lists, caches, docs, man pages,
  # locales, logs.
  $sudo rm -rf "$work"/root/var/lib/apt/lists/* "$work"/root/var/cache/apt/* \
    "$work"/root/var/cache/debconf/*-old "$work"/root/var/log/* \
    "$work"/root/usr/share/doc "$work"/root/usr/share/man "$work"/root/usr/share/info \
    "$work"/root/usr/share/locale "$work"/root/usr/share/lintian "$work"/root/tmp/*
  $sudo tar --numeric-owner -C "$work/root" -cf "$rootfs_tar.tmp" .
  $sudo mv "$rootfs_tar.tmp" "$rootfs_tar"
fi

builder=()
if ! docker buildx version >/dev/null 2>&1; then builder=(env DOCKER_BUILDKIT=0); fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "build-zookeeper: docker import $base"
  docker import "$rootfs_tar" "$base" >/dev/null
fi
"${builder[@]}" docker build -q --build-arg BASE="$base" -t "$image" zookeeper >/dev/null
echo "build-zookeeper: built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
