#!/bin/bash
# Writes $ZOO_CONF_DIR/zoo.cfg and $ZOO_DATA_DIR/myid from the environment the
# way the official zookeeper image's entrypoint does, then runs the command
# (zkServer.sh start-foreground by default). An existing zoo.cfg (a mounted
# file) is used as is; an existing myid is kept.
set -e

if [[ "$1" = zkServer.sh && "$(id -u)" = 0 ]]; then
  # Started with --user root: hand the directories to zookeeper and drop to it.
  chown -R zookeeper:zookeeper "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR" "$ZOO_CONF_DIR"
  exec setpriv --reuid=zookeeper --regid=zookeeper --init-groups "$0" "$@"
fi

if [[ ! -f "$ZOO_CONF_DIR/zoo.cfg" ]]; then
  config="$ZOO_CONF_DIR/zoo.cfg"
  {
    echo "dataDir=$ZOO_DATA_DIR"
    echo "dataLogDir=$ZOO_DATA_LOG_DIR"
    echo "tickTime=$ZOO_TICK_TIME"
    echo "initLimit=$ZOO_INIT_LIMIT"
    echo "syncLimit=$ZOO_SYNC_LIMIT"
    echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
    echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
    echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
    echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
    echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
    echo "clientPort=${ZOO_PORT:-2181}"
  } >"$config"
  if [[ -z "$ZOO_SERVERS" ]]; then
    ZOO_SERVERS="server.1=localhost:2888:3888;${ZOO_PORT:-2181}"
  fi
  # ZOO_SERVERS is whitespace-separated: "server.1=zk1:2888:3888;2181 server.2=...".
  for server in $ZOO_SERVERS; do
    echo "$server" >>"$config"
  done
  if [[ -n "$ZOO_4LW_COMMANDS_WHITELIST" ]]; then
    echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST" >>"$config"
  fi
  for cfg_extra_entry in $ZOO_CFG_EXTRA; do
    echo "$cfg_extra_entry" >>"$config"
  done
fi

if [[ ! -f "$ZOO_DATA_DIR/myid" ]]; then
  echo "${ZOO_MY_ID:-1}" >"$ZOO_DATA_DIR/myid"
fi

exec "$@"
