// kafka-server-start runs one Gregor broker in the foreground, like Kafka's
// bin/kafka-server-start.sh:
//
//	kafka-server-start config/server.properties [--override key=value ...]
//
// It stops cleanly on SIGTERM or SIGINT and exits 2 on bad configuration,
// naming the key. While it runs, its pid is in <first log.dirs>/kafka-server.pid,
// which is how kafka-server-stop finds it from the same configuration.
package main

import (
	"os"

	"github.com/gregor-broker/gregor/broker"
	"github.com/gregor-broker/gregor/tools/internal/pidfile"
)

func main() {
	remove := pidfile.Write(os.Args[1:])
	code := broker.Main(os.Args[1:], os.Stderr)
	remove()
	os.Exit(code)
}
