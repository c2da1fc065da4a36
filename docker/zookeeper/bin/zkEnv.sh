# Sourced by zkServer.sh and zkCli.sh: the Java command line for Debian's
# ZooKeeper jars. zookeeper.jar's manifest names its dependencies; slf4j-log4j12
# and log4j 1.2 route ZooKeeper's logging to the console (log4j.properties).
ZOOCFGDIR=${ZOOCFGDIR:-/conf}
CLASSPATH="$ZOOCFGDIR:/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
ZOO_LOG4J_PROP=${ZOO_LOG4J_PROP:-INFO,CONSOLE}
JAVA=${JAVA:-java}
