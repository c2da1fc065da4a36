#!/bin/bash
# zkServer.sh start-foreground | status | print-cmd, as in ZooKeeper's script
# (the image runs servers in the foreground only). The heap is
# ZK_SERVER_HEAP megabytes unless JVMFLAGS sets -Xmx (later flags win).
set -e
. /zookeeper/bin/zkEnv.sh
ZOOCFG="$ZOOCFGDIR/zoo.cfg"
cmd=("$JAVA" "-Dzookeeper.log.dir=${ZOO_LOG_DIR:-/logs}" "-Dzookeeper.root.logger=$ZOO_LOG4J_PROP"
  "-Dlog4j.configuration=file:/zookeeper/conf/log4j.properties"
  -XX:+ExitOnOutOfMemoryError
  "-Xmx${ZK_SERVER_HEAP:-1000}m" $SERVER_JVMFLAGS $JVMFLAGS
  -cp "$CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOOCFG")
case "$1" in
  start-foreground) exec "${cmd[@]}" ;;
  print-cmd) echo "${cmd[@]}" ;;
  status)
    port=$(sed -n 's/^clientPort=//p' "$ZOOCFG")
    exec "$JAVA" -cp "$CLASSPATH" $CLIENT_JVMFLAGS org.apache.zookeeper.client.FourLetterWordMain localhost "${port:-2181}" srvr ;;
  *) echo "usage: zkServer.sh start-foreground|status|print-cmd" >&2; exit 2 ;;
esac
