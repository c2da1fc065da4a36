#!/bin/bash
# zkCli.sh [-server host:port] [command ...]: ZooKeeper's command-line client.
. /zookeeper/bin/zkEnv.sh
exec "$JAVA" "-Dzookeeper.root.logger=${ZOO_CLI_LOG4J_PROP:-WARN,CONSOLE}" \
  "-Dlog4j.configuration=file:/zookeeper/conf/log4j.properties" \
  -Xmx64m $CLIENT_JVMFLAGS -cp "$CLASSPATH" org.apache.zookeeper.ZooKeeperMain "$@"
