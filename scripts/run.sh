#!/usr/bin/env bash
# `make run`: one ZooKeeper (config/zookeeper.properties) and one Gregor broker
# (config/server.properties) in the foreground. Data lives under ./data, so a
# second run finds the first run's topics. Ctrl-C stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

zkjar=/usr/share/java/zookeeper.jar
if [ ! -f "$zkjar" ] || ! command -v java >/dev/null; then
  echo "ZooKeeper not found; installing Debian's zookeeper package"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq zookeeper
fi

mkdir -p data/zookeeper data/kafka-logs
zkport=$(sed -n 's/^clientPort=//p' config/zookeeper.properties)

zkpid=""; brokerpid=""
stop() {
  trap - INT TERM EXIT
  [ -n "$brokerpid" ] && kill -TERM "$brokerpid" 2>/dev/null && wait "$brokerpid" 2>/dev/null || true
  [ -n "$zkpid" ] && kill -TERM "$zkpid" 2>/dev/null && wait "$zkpid" 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

if echo ruok | (exec 3<>"/dev/tcp/127.0.0.1/$zkport" && cat >&3 && cat <&3) 2>/dev/null | grep -q imok; then
  echo "ZooKeeper already running on 127.0.0.1:$zkport; using it"
else
  java -Xmx256m -XX:+UseSerialGC -Dzookeeper.admin.enableServer=false \
    -cp "$zkjar" org.apache.zookeeper.server.quorum.QuorumPeerMain config/zookeeper.properties \
    > data/zookeeper.log 2>&1 &
  zkpid=$!
  up=""
  for _ in $(seq 1 300); do
    if echo ruok | (exec 3<>"/dev/tcp/127.0.0.1/$zkport" && cat >&3 && cat <&3) 2>/dev/null | grep -q imok; then up=1; break; fi
    kill -0 "$zkpid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$up" ]; then
    echo "ZooKeeper did not come up on 127.0.0.1:$zkport; see data/zookeeper.log" >&2
    exit 1
  fi
  echo "ZooKeeper up on 127.0.0.1:$zkport (log: data/zookeeper.log)"
fi

bin/kafka-server-start config/server.properties "$@" &
brokerpid=$!
echo "Gregor broker starting; bootstrap address: localhost:9092"
wait "$brokerpid" || true
brokerpid=""
